"""The OAuth 2 flows end to end through the ASGI app, driven by Authlib's own OAuth 2 client."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.identity.models import OAuthAuthorizationCode, OAuthToken, Role
from tests.identity.conftest import (
    AUTHORIZE_URL,
    BASE_URL,
    PASSWORD,
    REDIRECT_URI,
    REVOKE_URL,
    TOKEN_URL,
    World,
    bearer,
    browser_login,
    oauth_client,
    parse_form,
    pkce_pair,
)


def _decode(api: TestClient, token: str) -> jwt.Token:
    """The token as any resource server sees it: checked against the published JWKS."""
    keys = KeySet.import_key_set(api.get("/.well-known/jwks.json").json())
    return jwt.decode(token, keys, algorithms=["ES256"])


# ------------------------------------------------------------------------------------------ client credentials


def test_client_credentials_gives_a_vendor_token_with_the_clients_scopes(api: TestClient, world: World) -> None:
    machine = world.machines["vendor_sync"]
    client = oauth_client(api, client_id=machine.client_id, client_secret=machine.secret)
    token = client.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert "refresh_token" not in token
    assert set(token["scope"].split()) == {"vendors:write", "solutions:write", "challenges:write", "private:read"}

    decoded = _decode(api, token["access_token"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["alg"] == "ES256"
    assert decoded.header["kid"] in {k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]}
    claims = decoded.claims
    assert {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope"} <= claims.keys()
    assert claims["iss"] == BASE_URL
    assert claims["aud"] == f"{BASE_URL}/api"
    assert claims["sub"] == f"client:{machine.client_id}"
    assert claims["client_id"] == machine.client_id

    me = client.get(f"{BASE_URL}/api/v1/me").json()
    assert me["subject"] == f"client:{machine.client_id}"
    assert me["roles"] == [
        {
            "role": "vendor_member",
            "organisation_id": machine.organisation_id,
            "organisation_kind": "vendor",
            "target_id": world.vendor["a"],
        }
    ]
    graphql = client.post(f"{BASE_URL}/graphql", json={"query": "{ me { subject scopes roles { role targetId } } }"})
    assert graphql.json()["data"]["me"]["roles"] == [{"role": "vendor_member", "targetId": world.vendor["a"]}]


def test_client_credentials_never_beyond_the_granted_scopes(api: TestClient, world: World) -> None:
    machine = world.machines["vendor_sync"]
    client = oauth_client(api, client_id=machine.client_id, client_secret=machine.secret)
    narrowed = client.fetch_token(TOKEN_URL, grant_type="client_credentials", scope="solutions:write")
    assert narrowed["scope"] == "solutions:write"
    with pytest.raises(OAuthError) as refused:
        client.fetch_token(TOKEN_URL, grant_type="client_credentials", scope="solutions:write cities:write")
    assert refused.value.error == "invalid_scope"
    with pytest.raises(OAuthError) as unknown:
        client.fetch_token(TOKEN_URL, grant_type="client_credentials", scope="admin")
    assert unknown.value.error == "invalid_scope"


def test_client_credentials_with_a_wrong_secret_or_as_a_public_client_is_refused(api: TestClient, world: World) -> None:
    machine = world.machines["vendor_sync"]
    wrong = oauth_client(api, client_id=machine.client_id, client_secret="not-the-secret")
    with pytest.raises(OAuthError) as refused:
        wrong.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
    public = oauth_client(api, client_id=world.machines["public_spa"].client_id)
    with pytest.raises(OAuthError) as not_allowed:
        public.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert not_allowed.value.error in ("invalid_client", "unauthorized_client")
    # client_secret_post works as well as basic.
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": machine.client_id, "client_secret": machine.secret},
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"


# --------------------------------------------------------------------------------- authorization code + PKCE


def _authorize(
    api: TestClient,
    client_id: str,
    *,
    email: str,
    password: str = PASSWORD,
    scope: str | None = None,
    client_secret: str | None = None,
) -> tuple[dict[str, str], object]:
    """The whole browser flow with Authlib's client: authorization URL, sign-in form, callback, token."""
    verifier, _ = pkce_pair()
    client = oauth_client(
        api,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=REDIRECT_URI,
        scope=scope,
        code_challenge_method="S256",
    )
    url, state = client.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier)
    response = browser_login(api, url, email, password)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    token = client.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)
    return token, client


def test_authorization_code_with_pkce_for_a_person_through_the_login_form(api: TestClient, world: World) -> None:
    actor = world.actors[Role.vendor_member]
    token, _client = _authorize(api, world.machines["public_spa"].client_id, email=actor.email)
    assert token["refresh_token"]
    # The browser app asked for everything; the vendor member gets what the role can use.
    assert set(token["scope"].split()) == {"vendors:write", "solutions:write", "challenges:write", "private:read"}
    assert _decode(api, token["access_token"]).claims["sub"] == f"user:{actor.user_id}"

    me = api.get("/api/v1/me", headers=bearer(token["access_token"])).json()
    assert me["user_id"] == actor.user_id
    assert [(r["role"], r["target_id"]) for r in me["roles"]] == [("vendor_member", world.vendor["a"])]
    graphql = api.post("/graphql", json={"query": "{ me { userId scopes } }"}, headers=bearer(token["access_token"]))
    assert graphql.json()["data"]["me"]["userId"] == actor.user_id


def test_a_confidential_client_does_the_code_flow_with_pkce_too(api: TestClient, world: World) -> None:
    machine = world.machines["confidential_web"]
    token, _ = _authorize(
        api,
        machine.client_id,
        client_secret=machine.secret,
        email=world.actors[Role.vendor_member].email,
        scope="solutions:write",
    )
    assert token["scope"] == "solutions:write"


@pytest.mark.parametrize(
    ("challenge_params", "expected"),
    [
        ({}, "PKCE is required"),
        ({"code_challenge_method": "plain"}, "plain is not accepted"),
        ({"code_challenge_method": None}, "must be S256"),
    ],
    ids=["missing", "plain", "method-missing"],
)
def test_a_confidential_client_without_s256_pkce_is_refused(
    api: TestClient, world: World, challenge_params: dict[str, str | None], expected: str
) -> None:
    machine = world.machines["confidential_web"]
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": machine.client_id, "redirect_uri": REDIRECT_URI, "state": "s1"}
    if challenge_params:
        params["code_challenge"] = verifier if challenge_params.get("code_challenge_method") == "plain" else challenge
        if challenge_params["code_challenge_method"]:
            params["code_challenge_method"] = challenge_params["code_challenge_method"]  # type: ignore[assignment]
    response = api.get("/oauth/authorize", params=params, follow_redirects=False)
    # The redirect URI is registered, so the refusal goes back to the client (RFC 6749 4.1.2.1).
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert expected in query["error_description"][0]
    assert query["state"] == ["s1"]


def test_a_code_without_its_verifier_or_with_a_wrong_one_is_refused(
    api: TestClient, world: World, iengine: Engine
) -> None:
    machine = world.machines["confidential_web"]
    actor = world.actors[Role.vendor_member]
    for verifier_sent in (None, "x" * 50):
        verifier, _ = pkce_pair()
        client = oauth_client(
            api,
            client_id=machine.client_id,
            client_secret=machine.secret,
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
        )
        url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier)
        location = browser_login(api, url, actor.email, PASSWORD).headers["location"]
        code = parse_qs(urlsplit(location).query)["code"][0]
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        if verifier_sent:
            data["code_verifier"] = verifier_sent
        response = api.post("/oauth/token", data=data, auth=(machine.client_id, machine.secret or ""))
        assert response.status_code == 400, response.text
        assert response.json()["error"] in ("invalid_request", "invalid_grant")
    with Session(iengine) as session:
        assert session.exec(select(OAuthToken).where(OAuthToken.user_id == actor.user_id)).all() == []


def test_a_code_works_once_and_its_reuse_revokes_what_it_gave(api: TestClient, world: World) -> None:
    actor = world.actors[Role.city_official]
    client_id = world.machines["public_spa"].client_id
    verifier, challenge = pkce_pair()
    url = api.build_request(
        "GET",
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    ).url
    code = parse_qs(urlsplit(browser_login(api, str(url), actor.email, PASSWORD).headers["location"]).query)["code"][0]
    data = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    first = api.post("/oauth/token", data=data)
    assert first.status_code == 200
    assert api.get("/api/v1/me", headers=bearer(first.json()["access_token"])).status_code == 200
    again = api.post("/oauth/token", data=data)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert api.get("/api/v1/me", headers=bearer(first.json()["access_token"])).status_code == 401


def test_the_login_form_is_plain_and_accessible(api: TestClient, world: World) -> None:
    _, challenge = pkce_pair()
    page = api.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": world.machines["public_spa"].client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": "solutions:write",
        },
        headers={"accept": "text/html"},
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text.lower()
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    form = parse_form(page.text)
    assert form.labels == {"email": "Email", "password": "Password"}
    assert form.fields["form_token"]
    assert "solutions:write" in page.text
    assert "citymarket_login_nonce" in page.headers["set-cookie"]
    assert "httponly" in page.headers["set-cookie"].lower()


def test_wrong_password_shows_the_form_again_and_gives_no_code(api: TestClient, world: World) -> None:
    _, challenge = pkce_pair()
    url = api.build_request(
        "GET",
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": world.machines["public_spa"].client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    ).url
    response = browser_login(api, str(url), world.actors[Role.admin].email, "wrong password!!")
    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert "location" not in response.headers


def test_the_form_needs_its_csrf_token_and_cookie(api: TestClient, world: World, iengine: Engine) -> None:
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": world.machines["public_spa"].client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = api.get("/oauth/authorize", params=params)
    fields = {
        **parse_form(page.text).fields,
        "email": world.actors[Role.admin].email,
        "password": PASSWORD,
        "action": "allow",
    }
    forged = api.post("/oauth/authorize", data={**fields, "form_token": "1700000000.AAAA"}, follow_redirects=False)
    assert forged.status_code == 400
    # Another browser (no cookie of ours) posting a token lifted from the page: refused too.
    with TestClient(api.app, base_url=BASE_URL) as other_browser:
        replayed = other_browser.post("/oauth/authorize", data=fields, follow_redirects=False)
    assert replayed.status_code == 400
    with Session(iengine) as session:
        assert session.exec(select(OAuthAuthorizationCode)).all() == []
    accepted = api.post("/oauth/authorize", data=fields, follow_redirects=False)
    assert accepted.status_code == 302


def test_deny_returns_access_denied_to_the_client(api: TestClient, world: World) -> None:
    _, challenge = pkce_pair()
    url = api.build_request(
        "GET",
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": world.machines["public_spa"].client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "xyz",
        },
    ).url
    response = browser_login(api, str(url), "", "", action="deny")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["xyz"]


def test_an_unknown_redirect_uri_is_never_redirected_to(api: TestClient, world: World) -> None:
    _, challenge = pkce_pair()
    response = api.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": world.machines["public_spa"].client_id,
            "redirect_uri": "https://evil.example/steal",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    problem = api.get("/oauth/authorize", params={"response_type": "code", "client_id": "nope"})
    assert problem.status_code == 400
    assert problem.headers["content-type"] == "application/problem+json"


# ------------------------------------------------------------------------------------- refresh and revoke


def test_refresh_rotates_and_a_used_refresh_token_stops_working(api: TestClient, world: World) -> None:
    actor = world.actors[Role.hub_curator]
    token, client = _authorize(api, world.machines["public_spa"].client_id, email=actor.email)
    first_refresh = token["refresh_token"]
    renewed = client.refresh_token(TOKEN_URL, refresh_token=first_refresh)  # type: ignore[attr-defined]
    assert renewed["refresh_token"] != first_refresh
    assert renewed["access_token"] != token["access_token"]
    assert set(renewed["scope"].split()) == {"catalogue:write", "private:read"}
    assert api.get("/api/v1/me", headers=bearer(renewed["access_token"])).status_code == 200

    # The old refresh token is refused...
    reuse = api.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first_refresh,
            "client_id": world.machines["public_spa"].client_id,
        },
    )
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # ...and presenting it again revoked the whole family: the newer tokens stop working too.
    assert api.get("/api/v1/me", headers=bearer(renewed["access_token"])).status_code == 401
    newest = api.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": renewed["refresh_token"],
            "client_id": world.machines["public_spa"].client_id,
        },
    )
    assert newest.status_code == 400


def test_refresh_cannot_widen_the_scope(api: TestClient, world: World) -> None:
    actor = world.actors[Role.vendor_member]
    token, client = _authorize(api, world.machines["public_spa"].client_id, email=actor.email, scope="solutions:write")
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"], scope="solutions:write admin")  # type: ignore[attr-defined]
    assert refused.value.error == "invalid_scope"


def test_revoking_a_refresh_token_revokes_its_access_tokens(api: TestClient, world: World) -> None:
    actor = world.actors[Role.programme_coordinator]
    token, client = _authorize(api, world.machines["public_spa"].client_id, email=actor.email)
    assert api.get("/api/v1/me", headers=bearer(token["access_token"])).status_code == 200
    response = client.revoke_token(REVOKE_URL, token=token["refresh_token"], token_type_hint="refresh_token")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert api.get("/api/v1/me", headers=bearer(token["access_token"])).status_code == 401
    refresh = api.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": world.machines["public_spa"].client_id,
        },
    )
    assert refresh.status_code == 400


def test_revoking_an_access_token(api: TestClient, world: World) -> None:
    machine = world.machines["city_pipeline"]
    client = oauth_client(api, client_id=machine.client_id, client_secret=machine.secret)
    token = client.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert api.get("/api/v1/me", headers=bearer(token["access_token"])).status_code == 200
    response = client.revoke_token(REVOKE_URL, token=token["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    refused = api.get("/api/v1/me", headers=bearer(token["access_token"]))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # RFC 7009: an unknown token is not an error; another client's token is refused.
    assert client.revoke_token(REVOKE_URL, token="not-a-token").status_code == 200
    other = world.machines["vendor_sync"]
    other_token = oauth_client(api, client_id=other.client_id, client_secret=other.secret).fetch_token(
        TOKEN_URL, grant_type="client_credentials"
    )
    assert client.revoke_token(REVOKE_URL, token=other_token["access_token"]).status_code == 400
    assert api.get("/api/v1/me", headers=bearer(other_token["access_token"])).status_code == 200


# ------------------------------------------------------------------------------------------------ discovery


def test_server_metadata_is_valid_rfc_8414(api: TestClient) -> None:
    body = api.get("/.well-known/oauth-authorization-server").json()
    metadata = AuthorizationServerMetadata(body)
    metadata.validate()
    assert body["issuer"] == BASE_URL
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert "none" in body["token_endpoint_auth_methods_supported"]
    assert set(body["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    jwks = api.get("/.well-known/jwks.json").json()
    assert all("d" not in key for key in jwks["keys"])
    assert all(key["kid"] and key["use"] == "sig" for key in jwks["keys"])


def test_two_refreshes_racing_with_one_token_do_not_both_win(
    api: TestClient, app: FastAPI, iengine: Engine, world: World
) -> None:
    """Both requests read the refresh token as unused; the second to write loses and revokes the family."""
    from authlib.oauth2.rfc6749.errors import InvalidGrantError
    from starlette.requests import Request

    from app.auth.server import CitymarketAuthorizationServer, StarletteOAuth2Request

    token, _ = _authorize(api, world.machines["public_spa"].client_id, email=world.actors[Role.admin].email)
    auth = app.state.auth

    def refresh_request() -> StarletteOAuth2Request:
        request = Request(
            {"type": "http", "method": "POST", "path": "/oauth/token", "query_string": b"", "headers": [], "app": app}
        )
        form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", token["refresh_token"]),
            ("client_id", world.machines["public_spa"].client_id),
        ]
        return StarletteOAuth2Request(request, form, BASE_URL)

    with Session(iengine, expire_on_commit=False) as session:
        first = CitymarketAuthorizationServer(session, auth)
        second = CitymarketAuthorizationServer(session, auth)
        slow = first.get_token_grant(refresh_request())
        slow.validate_token_request()  # reads the refresh token: unused
        fast = second.get_token_grant(refresh_request())
        fast.validate_token_request()
        _, winner, _ = fast.create_token_response()
        with pytest.raises(InvalidGrantError):
            slow.create_token_response()
        session.commit()
    # The race was a reuse: the whole family is revoked, the winner's tokens included.
    assert api.get("/api/v1/me", headers=bearer(winner["access_token"])).status_code == 401
    again = api.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": winner["refresh_token"],
            "client_id": world.machines["public_spa"].client_id,
        },
    )
    assert again.status_code == 400
