"""The authorization server's endpoints (`/oauth/*`, `/.well-known/*`) and `GET /api/v1/me`.

The `/oauth/*` routes are sync (Authlib is sync); an async dependency reads the form first. OAuth protocol
errors at the token and revocation endpoints keep the RFC 6749 shape (`{"error": ...}`, application/json)
that OAuth clients parse; the rest (429, the API) is application/problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from app.auth import pages
from app.auth.csrf import COOKIE_NAME, FIELD_NAME
from app.auth.deps import PrincipalDep, get_auth_state
from app.auth.principal import ALL_SCOPES
from app.auth.ratelimit import TooManyAttempts
from app.auth.schemas import MeOut
from app.auth.server import CitymarketAuthorizationServer, FormItems, StarletteOAuth2Request, client_id_of
from app.auth.state import AuthState
from app.core.config import Environment
from app.core.deps import SessionDep
from app.core.errors import Problem, problem_response
from app.core.routing import api_router
from app.identity.models import OAuthClient
from app.identity.seed import DEMO_CALLBACK_PATH, DEMO_CLIENT_ID
from app.identity.service import authenticate_user, normalise_email

MAX_FORM_FIELDS = 30

router = api_router()
AuthDep = Annotated[AuthState, Depends(get_auth_state)]


async def read_form(request: Request) -> list[tuple[str, str]]:
    """The url-encoded body of a POST, read on the event loop before the sync endpoint runs."""
    if request.method != "POST":
        return []
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return []
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


FormDep = Annotated[list[tuple[str, str]], Depends(read_form)]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _oauth_request(request: Request, form: FormItems, auth: AuthState) -> StarletteOAuth2Request:
    return StarletteOAuth2Request(request, form, auth.settings.issuer)


def _server(session: Session, auth: AuthState) -> CitymarketAuthorizationServer:
    return CitymarketAuthorizationServer(session, auth)


def _too_many(request: Request, exc: TooManyAttempts) -> Response:
    if _wants_html(request):
        return pages.error_page(exc.title, exc.detail, status=429, headers=exc.headers)
    return problem_response(exc, request)


# ------------------------------------------------------------------------------------------- token, revoke


def _counted(
    request: Request, session: Session, auth: AuthState, form: FormItems, endpoint_name: str | None
) -> Response:
    oauth_request = _oauth_request(request, form, auth)
    client_id = client_id_of(oauth_request)
    address = _address(request)
    try:
        auth.limiter.check_token(client_id, address)
    except TooManyAttempts as exc:
        return _too_many(request, exc)
    server = _server(session, auth)
    if endpoint_name is None:
        response: Response = server.create_token_response(oauth_request)
    else:
        response = server.create_endpoint_response(endpoint_name, oauth_request)
    if response.status_code >= 400:
        auth.limiter.record_token_failure(client_id, address, confidential_auth=server.confidential_auth_failed)
    # Also on errors: a reused code or refresh token revokes its family, and that must stick.
    session.commit()
    return response


@router.post("/oauth/token", tags=["oauth"], summary="Token endpoint (RFC 6749)", response_model=None)
def token(request: Request, session: SessionDep, form: FormDep, auth: AuthDep) -> Response:
    return _counted(request, session, auth, form, None)


@router.post("/oauth/revoke", tags=["oauth"], summary="Token revocation (RFC 7009)", response_model=None)
def revoke(request: Request, session: SessionDep, form: FormDep, auth: AuthDep) -> Response:
    return _counted(request, session, auth, form, "revocation")


def token_endpoint_in_process(
    browser: Request, session: Session, auth: AuthState, form: FormItems, *, revoke: bool = False
) -> Response:
    """The token (or revocation) endpoint called by a client living in this process (the dashboard, which
    would otherwise send HTTP to itself): the same grants, client authentication, failure limits and commit
    as `POST /oauth/token` and `/oauth/revoke`, for a request made on behalf of `browser`'s caller."""
    path = "/oauth/revoke" if revoke else "/oauth/token"
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded"), (b"accept", b"application/json")],
        "client": browser.client,
        "app": browser.app,
    }
    return _counted(Request(scope), session, auth, form, "revocation" if revoke else None)


# --------------------------------------------------------------------------------------- authorize (login)


def _params(oauth_request: StarletteOAuth2Request) -> dict[str, str]:
    data = oauth_request.payload.data
    return {name: data[name] for name in pages.OAUTH_FIELDS if data.get(name)}


def _restart_link(params: dict[str, str]) -> str:
    return "/oauth/authorize?" + urlencode(params)


def _invalid_request_page(request: Request, error: OAuth2Error) -> Response:
    detail = error.description or error.error or "invalid request"
    if _wants_html(request):
        return pages.error_page("This sign-in link is not valid", detail, status=400)
    return problem_response(
        Problem(
            detail,
            status=400,
            type_="invalid-authorization-request",
            title="Invalid authorization request",
            extra={"error": error.error},
        ),
        request,
    )


def _consent(
    server: CitymarketAuthorizationServer, oauth_request: StarletteOAuth2Request
) -> tuple[Any, Response | None]:
    """Validate the authorization request: the grant, or the response that refuses it (a redirect to the
    client when its redirect URI is known good, a page otherwise)."""
    try:
        return server.get_consent_grant(oauth_request), None
    except OAuth2Error as error:
        if error.redirect_uri:
            return None, server.handle_error_response(oauth_request, error)
        return None, _invalid_request_page(oauth_request.starlette, error)


def _login_form(
    auth: AuthState,
    request: Request,
    grant: Any,
    params: dict[str, str],
    *,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    nonce = request.cookies.get(COOKIE_NAME)
    if not auth.form_tokens.valid_nonce(nonce):
        nonce = auth.form_tokens.new_nonce()
    assert nonce is not None
    client: OAuthClient = grant.client
    response = pages.login_page(
        client_name=client.name,
        scopes=(grant.request.scope or "").split(),
        params=params,
        form_token=auth.form_tokens.issue(nonce),
        email=email,
        error=error,
        status=status,
    )
    response.set_cookie(
        COOKIE_NAME,
        nonce,
        max_age=auth.form_tokens.max_age,
        path="/oauth",
        httponly=True,
        samesite="lax",
        secure=auth.settings.issuer.startswith("https://"),
    )
    return response


@router.get("/oauth/authorize", include_in_schema=False, response_model=None)
def authorize_form(request: Request, session: SessionDep, auth: AuthDep) -> Response:
    oauth_request = _oauth_request(request, [], auth)
    grant, refusal = _consent(_server(session, auth), oauth_request)
    if refusal is not None:
        return refusal
    return _login_form(auth, request, grant, _params(oauth_request))


@router.post("/oauth/authorize", include_in_schema=False, response_model=None)
def authorize_submit(request: Request, session: SessionDep, form: FormDep, auth: AuthDep) -> Response:
    oauth_request = _oauth_request(request, form, auth)
    fields = oauth_request.form
    params = _params(oauth_request)
    if not auth.form_tokens.verify(fields.get(FIELD_NAME), request.cookies.get(COOKIE_NAME)):
        detail = "The sign-in form has expired or did not come from this site. Start again."
        if _wants_html(request):
            return pages.error_page("Form expired", detail, status=400, retry_link=_restart_link(params))
        return problem_response(Problem(detail, status=400, type_="invalid-form-token", title="Invalid form"), request)
    server = _server(session, auth)
    grant, refusal = _consent(server, oauth_request)
    if refusal is not None:
        return refusal
    if fields.get("action") == "deny":
        return server.create_authorization_response(oauth_request, grant_user=None, grant=grant)  # type: ignore[no-any-return]
    email = normalise_email(fields.get("email", ""))[:320]
    address = _address(request)
    try:
        auth.limiter.check_login(email or None, address)
    except TooManyAttempts as exc:
        return _too_many(request, exc)
    user = authenticate_user(session, email, fields.get("password", "")) if email else None
    if user is None:
        auth.limiter.record_login_failure(email or None, address)
        return _login_form(
            auth, request, grant, params, email=email, error="The email or the password is wrong.", status=401
        )
    if not user.email_verified:
        # Only the password's holder learns this (the email and password were right): not an enumeration.
        return _login_form(
            auth,
            request,
            grant,
            params,
            email=email,
            error="This account's email address is not verified yet: send the token of the email we sent at "
            "sign-up to POST /api/v1/signup/verify (signing up again sends a new one), then sign in.",
            status=403,
        )
    response: Response = server.create_authorization_response(oauth_request, grant_user=user, grant=grant)
    session.commit()
    return response


@router.get(DEMO_CALLBACK_PATH, include_in_schema=False, response_model=None)
def demo_callback(request: Request, auth: AuthDep) -> Response:
    """The demo client's redirect URI (dev): shows the code so that a newcomer can finish the flow by hand."""
    if auth.settings.env is Environment.production:
        return problem_response(Problem("Not available in production.", status=404, type_="not-found"), request)
    query = request.query_params
    return pages.demo_callback_page(
        code=query.get("code"),
        state=query.get("state"),
        error=query.get("error_description") or query.get("error"),
        token_url=f"{auth.settings.issuer}/oauth/token",
        client_id=DEMO_CLIENT_ID,
        redirect_uri=f"{auth.settings.public_base_url.rstrip('/')}{DEMO_CALLBACK_PATH}",
    )


# ------------------------------------------------------------------------------------------------ discovery


@router.get("/.well-known/jwks.json", tags=["oauth"], summary="The public keys that sign access tokens")
def jwks(auth: AuthDep) -> JSONResponse:
    return JSONResponse(auth.keys.ring().jwks(), headers={"Cache-Control": "public, max-age=300"})


def server_metadata(auth: AuthState) -> dict[str, Any]:
    issuer = auth.settings.issuer
    methods = ["client_secret_basic", "client_secret_post", "none"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": sorted(ALL_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "code_challenge_methods_supported": ["S256"],
        "service_documentation": f"{issuer}/docs",
    }


@router.get(
    "/.well-known/oauth-authorization-server", tags=["oauth"], summary="Authorization server metadata (RFC 8414)"
)
def metadata(auth: AuthDep) -> JSONResponse:
    return JSONResponse(server_metadata(auth), headers={"Cache-Control": "public, max-age=300"})


# ------------------------------------------------------------------------------------------------------ me


@router.get("/api/v1/me", tags=["identity"], summary="Who the access token speaks for", response_model=MeOut)
def me(principal: PrincipalDep) -> MeOut:
    return MeOut.from_principal(principal)
