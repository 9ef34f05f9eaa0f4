"""The OAuth 2 authorization server, on Authlib, served by the API itself.

Authlib has no async integration: the `/oauth/*` routes are sync endpoints (FastAPI's thread pool) with a
sync session, and this module adapts Starlette requests to Authlib's `OAuth2Request` (the form is read
beforehand by an async dependency). One server object is built per request around that request's session.

Grants: `client_credentials` (confidential clients bound to an organisation, never beyond their scopes),
`authorization_code` with PKCE S256 required of EVERY client (Authlib's `CodeChallenge(required=True)`
only insists for public clients), and `refresh_token` with rotation and reuse detection. Revocation per
RFC 7009. Access tokens are RFC 9068 JWTs (app.auth.tokens).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from authlib.oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.auth.principal import ALL_SCOPES, scopes_for_roles
from app.auth.resource import user_memberships
from app.auth.tokens import InvalidToken, issue_access_token
from app.identity.models import OAuthAuthorizationCode, OAuthClient, OAuthToken, User
from app.identity.service import sha256_hex

if TYPE_CHECKING:
    from app.auth.state import AuthState

FormItems = Sequence[tuple[str, str]]


def utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------------ requests


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: FormItems) -> None:
        self._items = list(items)
        data: dict[str, str] = {}
        for key, value in self._items:
            data.setdefault(key, value)
        self._data = data

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._items:
            values[key].append(value)
        return values


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """A Starlette request as Authlib sees it. GET parameters come from the query, POST ones from the form
    body only (credentials never ride in a URL). The URI Authlib checks for HTTPS is the configured issuer's:
    behind a TLS-terminating proxy the app itself sees http."""

    def __init__(self, request: Request, form: FormItems, issuer: str) -> None:
        query = request.url.query
        uri = f"{issuer}{request.url.path}" + (f"?{query}" if query else "")
        super().__init__(request.method, uri, None, request.headers)
        self.starlette = request
        items: FormItems = list(request.query_params.multi_items()) if request.method == "GET" else form
        self.payload = _Payload(items)
        self._form = dict(self.payload.data)
        self.family_id: str | None = None

    @property
    def args(self) -> dict[str, str]:
        return dict(self.starlette.query_params)

    @property
    def form(self) -> dict[str, str]:
        return self._form


# -------------------------------------------------------------------------------------------------- grants


class StrictCodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256, required of every client, confidential ones included."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge and code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256 (plain is not accepted).")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier': PKCE is required of every client.")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    server: CitymarketAuthorizationServer

    def save_authorization_code(self, code: str, request: StarletteOAuth2Request) -> None:
        user: User = request.user
        client: OAuthClient = request.client
        assert user.id is not None
        assert client.id is not None
        # Never more than the user's roles can use (the consent page says so).
        role_scopes = scopes_for_roles(m.role for m in user_memberships(self.server.session, user.id))
        scope = " ".join(s for s in scope_to_list(request.scope) or [] if s in role_scopes)
        data = request.payload.data
        self.server.session.add(
            OAuthAuthorizationCode(
                code_hash=sha256_hex(code),
                client_pk=client.id,
                user_id=user.id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=scope,
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                expires_at=self.server.now
                + timedelta(seconds=self.server.auth.settings.authorization_code_ttl_seconds),
            )
        )
        self.server.session.flush()

    def query_authorization_code(self, code: str, client: OAuthClient) -> OAuthAuthorizationCode | None:
        row = self.server.session.exec(
            select(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.code_hash == sha256_hex(code), OAuthAuthorizationCode.client_pk == client.id
            )
        ).first()
        if row is None:
            return None
        if row.used_at is not None:
            # A code presented twice: it leaked. Revoke what it gave (RFC 6749 section 4.1.2).
            if row.family_id:
                self.server.revoke_family(row.family_id)
            return None
        if row.expires_at <= self.server.now:
            return None
        return row

    def delete_authorization_code(self, authorization_code: OAuthAuthorizationCode) -> None:
        # Conditional, so that of two concurrent exchanges of one code only one wins; the loser's tokens
        # (already flushed, same family) are revoked with the rest of the family.
        claimed = self.server.session.execute(
            sa.update(OAuthAuthorizationCode)
            .where(
                col(OAuthAuthorizationCode.id) == authorization_code.id, col(OAuthAuthorizationCode.used_at).is_(None)
            )
            .values(used_at=self.server.now, family_id=self.request.family_id)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            self.server.revoke_family(self.request.family_id)
            raise InvalidGrantError("The code has already been used.")

    def authenticate_user(self, authorization_code: OAuthAuthorizationCode) -> User | None:
        user = self.server.session.get(User, authorization_code.user_id)
        return user if user is not None and user.is_active else None


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: OAuthClient = self.request.client
        if client.organisation_id is None:
            raise UnauthorizedClientError("This client acts for no organisation.")
        requested = scope_to_list(self.request.payload.scope) or []
        beyond = [s for s in requested if s not in client.scope.split()]
        if beyond:
            raise InvalidScopeError(f"This client was not granted: {' '.join(beyond)}.")
        self.request.scope = " ".join(dict.fromkeys(requested)) if requested else client.scope

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh gives a new refresh token
    server: CitymarketAuthorizationServer

    def authenticate_refresh_token(self, refresh_token: str) -> OAuthToken | None:
        row = self.server.session.exec(
            select(OAuthToken).where(OAuthToken.refresh_token_hash == sha256_hex(refresh_token))
        ).first()
        if row is None:
            return None
        if row.refresh_token_revoked_at is not None:
            # A rotated (or revoked) refresh token presented again: someone holds a copy. Revoke the family.
            self.server.revoke_family(row.family_id)
            return None
        if row.refresh_token_expires_at is None or row.refresh_token_expires_at <= self.server.now:
            return None
        return row

    def authenticate_user(self, refresh_token: OAuthToken) -> User | None:
        if refresh_token.user_id is None:
            return None
        user = self.server.session.get(User, refresh_token.user_id)
        return user if user is not None and user.is_active else None

    def revoke_old_credential(self, refresh_token: OAuthToken) -> None:
        # Conditional, so that of two concurrent refreshes with one token only one wins: the other is a reuse.
        claimed = self.server.session.execute(
            sa.update(OAuthToken)
            .where(col(OAuthToken.id) == refresh_token.id, col(OAuthToken.refresh_token_revoked_at).is_(None))
            .values(refresh_token_revoked_at=self.server.now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            self.server.revoke_family(refresh_token.family_id)
            raise InvalidGrantError("The refresh token has already been used.")


class _TokenMatch:
    """A token found for revocation, and which of its two parts the caller presented."""

    def __init__(self, row: OAuthToken, kind: str) -> None:
        self.row = row
        self.kind = kind

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.check_client(client)


class RevocationEndpoint(_RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    server: CitymarketAuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> _TokenMatch | None:
        session = self.server.session
        if token_type_hint != "access_token":  # noqa: S105
            row = session.exec(
                select(OAuthToken).where(OAuthToken.refresh_token_hash == sha256_hex(token_string))
            ).first()
            if row is not None:
                return _TokenMatch(row, "refresh_token")
        if token_type_hint != "refresh_token":  # noqa: S105
            try:
                verified = self.server.auth.local.verify(token_string, check_expiry=False)
            except InvalidToken:
                return None
            row = session.exec(select(OAuthToken).where(OAuthToken.access_token_jti == verified.claims["jti"])).first()
            if row is not None:
                return _TokenMatch(row, "access_token")
        return None

    def revoke_token(self, token: _TokenMatch, request: StarletteOAuth2Request) -> None:
        if token.kind == "access_token":
            token.row.access_token_revoked_at = token.row.access_token_revoked_at or self.server.now
            self.server.session.add(token.row)
        else:
            # RFC 7009 section 2.1: revoking a refresh token also invalidates the access tokens of its grant.
            self.server.revoke_family(token.row.family_id)


# -------------------------------------------------------------------------------------------------- server


class CitymarketAuthorizationServer(_AuthorizationServer):  # type: ignore[misc]
    def __init__(self, session: Session, auth: AuthState) -> None:
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self.session = session
        self.auth = auth
        self.now = utcnow()
        self._issued: dict[str, Any] = {}
        # What the failure counters need to know of this request: the client its id named, and the error.
        self.named_client: OAuthClient | None = None
        self.error: str | None = None
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [StrictCodeChallenge(required=True)])
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(RevocationEndpoint)

    # -- storage

    def query_client(self, client_id: str) -> OAuthClient | None:
        if not client_id or len(client_id) > 64:
            return None
        self.named_client = self.session.exec(
            select(OAuthClient).where(OAuthClient.client_id == client_id, OAuthClient.is_active == sa.true())
        ).first()
        return self.named_client

    @property
    def confidential_auth_failed(self) -> bool:
        """The request failed because a confidential (or unknown) client did not authenticate: a guess at a
        secret. A public client's id is public, so its failures are never held against the client."""
        client = self.named_client
        return self.error == "invalid_client" and (client is None or not client.is_public)

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        # Every grant resolved the scope already (possibly to nothing): never widen an empty one.
        scope = scope or ""
        subject = f"user:{user.id}" if user is not None else f"client:{client.client_id}"
        issued = issue_access_token(
            self.auth.keys.ring(), self.auth.settings, subject=subject, client_id=client.client_id, scope=scope
        )
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": issued.token,
            "expires_in": self.auth.settings.access_token_ttl_seconds,
            "scope": scope,
        }
        if include_refresh_token and user is not None:
            token["refresh_token"] = secrets.token_urlsafe(32)
        self._issued[issued.token] = issued
        return token

    def save_token(self, token: dict[str, Any], request: StarletteOAuth2Request) -> None:
        issued = self._issued.pop(token["access_token"])
        client: OAuthClient = request.client
        user: User | None = request.user
        assert client.id is not None
        previous: OAuthToken | None = request.refresh_token
        family = previous.family_id if previous is not None else secrets.token_urlsafe(18)
        request.family_id = family
        refresh = token.get("refresh_token")
        self.session.add(
            OAuthToken(
                client_pk=client.id,
                user_id=user.id if user is not None else None,
                scope=token.get("scope", ""),
                family_id=family,
                access_token_jti=issued.jti,
                access_token_expires_at=issued.expires_at,
                refresh_token_hash=sha256_hex(refresh) if refresh else None,
                refresh_token_expires_at=(
                    self.now + timedelta(seconds=self.auth.settings.refresh_token_ttl_seconds) if refresh else None
                ),
            )
        )
        self.session.flush()

    def revoke_family(self, family_id: str) -> None:
        self.session.execute(
            sa.update(OAuthToken)
            .where(col(OAuthToken.family_id) == family_id, col(OAuthToken.access_token_revoked_at).is_(None))
            .values(access_token_revoked_at=self.now)
        )
        self.session.execute(
            sa.update(OAuthToken)
            .where(col(OAuthToken.family_id) == family_id, col(OAuthToken.refresh_token_revoked_at).is_(None))
            .values(refresh_token_revoked_at=self.now)
        )

    # -- framework glue

    def create_oauth2_request(self, request: Any) -> StarletteOAuth2Request:
        if isinstance(request, StarletteOAuth2Request):
            return request
        raise TypeError("build a StarletteOAuth2Request first")

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        header_map = dict(headers)
        if status >= 400 and isinstance(body, dict):
            self.error = str(body.get("error") or "")
        if isinstance(body, dict):
            header_map.pop("Content-Type", None)
            return JSONResponse(body, status_code=status, headers=header_map)
        return Response(body or b"", status_code=status, headers=header_map)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


def client_id_of(request: StarletteOAuth2Request) -> str | None:
    """The client a token-endpoint request claims to be (for the failure counters), unverified."""
    client_id, _ = extract_basic_authorization(request.headers)
    return str(client_id or request.form.get("client_id") or "") or None
