"""Trusting an external OpenID Connect issuer: the test plays the issuer with a key pair of its own and serves
its JWKS through an httpx transport (the real fetch code runs; no network)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from app.auth.state import build_auth_state
from app.identity.models import Role
from tests.identity.conftest import BASE_URL, World, bearer

ISSUER = "https://idp.example/realms/citymarket"
JWKS_URL = f"{ISSUER}/protocol/openid-connect/certs"
AUDIENCE = "citymarket-api"


class FakeIssuer:
    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "idp-1", "alg": "RS256", "use": "sig"})]
        self.fetches = 0

    def jwks(self) -> dict[str, Any]:
        return KeySet(list(self.keys)).as_dict(private=False)  # type: ignore[arg-type]

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            if str(request.url) == JWKS_URL:
                self.fetches += 1
                return httpx.Response(200, json=self.jwks())
            return httpx.Response(404)

        return httpx.MockTransport(handler)

    def token(self, key: RSAKey | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "sub": "f3b1c2",
            "aud": AUDIENCE,
            "exp": now + 300,
            "iat": now,
            "azp": "portal",
            "realm_access": {"roles": []},
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, body, key)


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


def _app(make_app: Callable[..., FastAPI], issuer: FakeIssuer, world: World, **extra: Any) -> TestClient:
    settings_overrides = {
        "oidc_issuer": ISSUER,
        "oidc_jwks_url": JWKS_URL,
        "oidc_audience": AUDIENCE,
        "oidc_roles_claim": "realm_access.roles",
        "oidc_role_map": {"Karmoy.Officials": f"city_official:city:{world.city['a']}"},
        **extra,
    }
    app = make_app(**settings_overrides)
    app.state.auth = build_auth_state(app.state.settings, oidc_http=httpx.Client(transport=issuer.transport()))
    return TestClient(app, base_url=BASE_URL)


def test_an_external_token_maps_its_roles_to_memberships(
    make_app: Callable[..., FastAPI], issuer: FakeIssuer, world: World
) -> None:
    api = _app(make_app, issuer, world)
    token = issuer.token(
        realm_access={
            "roles": [
                f"vendor_member:vendor:{world.vendor['a']}",
                "Karmoy.Officials",
                "offline_access",
                "admin:city:1",
                "hub_curator:hub:notanumber",
            ]
        }
    )
    me = api.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["subject"] == f"oidc:{ISSUER}#f3b1c2"
    assert body["client_id"] == "portal"
    assert sorted((r["role"], r["target_id"]) for r in body["roles"]) == [
        ("city_official", world.city["a"]),
        ("vendor_member", world.vendor["a"]),
    ]
    # No scope claim of ours: the roles' scopes.
    assert {"solutions:write", "cities:write", "private:read"} <= set(body["scopes"])
    assert "admin" not in body["scopes"]
    graphql = api.post("/graphql", json={"query": "{ me { subject roles { role } } }"}, headers=bearer(token))
    assert graphql.json()["data"]["me"]["subject"] == body["subject"]
    assert issuer.fetches == 1


def test_scopes_from_the_token_when_roles_do_not_grant_them(
    make_app: Callable[..., FastAPI], issuer: FakeIssuer, world: World
) -> None:
    api = _app(make_app, issuer, world, oidc_scopes_from_roles=False)
    token = issuer.token(
        scope="openid solutions:write", realm_access={"roles": [f"vendor_member:vendor:{world.vendor['b']}"]}
    )
    body = api.get("/api/v1/me", headers=bearer(token)).json()
    assert body["scopes"] == ["solutions:write"]
    assert [(r["role"], r["target_id"]) for r in body["roles"]] == [("vendor_member", world.vendor["b"])]


@pytest.mark.parametrize(
    "claims_at",
    [
        lambda now: {"aud": "someone-else"},
        lambda now: {"aud": None},
        lambda now: {"exp": now - 600},
        lambda now: {"nbf": now + 600},
        lambda now: {"iss": "https://idp.example/realms/other"},
    ],
    ids=["wrong-aud", "no-aud", "expired", "not-yet-valid", "other-issuer"],
)
def test_external_tokens_are_checked_like_ours(
    make_app: Callable[..., FastAPI], issuer: FakeIssuer, world: World, claims_at: Callable[[int], dict[str, Any]]
) -> None:
    api = _app(make_app, issuer, world)
    # Times are taken when the test runs, not when it is collected: a slow run must not make "not yet
    # valid" valid.
    claims = claims_at(int(time.time()))
    response = api.get("/api/v1/me", headers=bearer(issuer.token(**claims)))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_key_outside_the_issuers_jwks_is_refused_and_a_rolled_key_is_fetched(
    make_app: Callable[..., FastAPI], issuer: FakeIssuer, world: World
) -> None:
    api = _app(make_app, issuer, world)
    assert api.get("/api/v1/me", headers=bearer(issuer.token())).status_code == 200
    stranger = RSAKey.generate_key(2048, parameters={"kid": "idp-1", "alg": "RS256"})
    assert api.get("/api/v1/me", headers=bearer(issuer.token(key=stranger))).status_code == 401

    # The issuer rolls its keys: a token with a new kid makes us fetch the JWKS again (not more often than
    # every 30 s: pretend that much time passed since the first fetch).
    rolled = RSAKey.generate_key(2048, parameters={"kid": "idp-2", "alg": "RS256", "use": "sig"})
    issuer.keys.append(rolled)
    oidc = api.app.state.auth.authenticator.oidc  # type: ignore[attr-defined]
    oidc._fetched_at -= 60
    assert api.get("/api/v1/me", headers=bearer(issuer.token(key=rolled))).status_code == 200
    assert issuer.fetches == 2


def test_our_own_tokens_still_work_next_to_the_external_issuer(
    make_app: Callable[..., FastAPI], issuer: FakeIssuer, world: World
) -> None:
    from tests.identity.conftest import mint_user_token

    api = _app(make_app, issuer, world)
    app: FastAPI = api.app  # type: ignore[assignment]
    token = mint_user_token(app, app.state.engine, world, Role.city_official)
    assert api.get("/api/v1/me", headers=bearer(token)).json()["user_id"] == world.actors[Role.city_official].user_id
