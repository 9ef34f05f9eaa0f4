"""Every forged or misused token is refused with 401 and `WWW-Authenticate: Bearer error="invalid_token"`.

Each forgery starts from a real token (its `jti` is on record, its subject exists) and changes ONE thing,
and a control re-signs the unchanged claims and must be accepted: so each 401 is caused by that one defect,
not by the token being unknown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy.engine import Engine

from app.identity.models import Role
from tests.identity.conftest import TOKEN_URL, World, auth_state, bearer, mint_user_token, oauth_client


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


class Forge:
    def __init__(self, app: FastAPI, token: str) -> None:
        self.signing = auth_state(app).keys.ring().signing
        decoded = jwt.decode(token, self.signing.key, algorithms=[self.signing.alg])
        self.header: dict[str, Any] = dict(decoded.header)
        self.claims: dict[str, Any] = dict(decoded.claims)

    def token(self, *, key: Any = None, header: dict[str, Any] | None = None, **claims: Any) -> str:
        body = {**self.claims, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        head = {**self.header, **(header or {})}
        return jwt.encode(head, body, key or self.signing.key, algorithms=[head["alg"]])


@pytest.fixture
def user_token(app: FastAPI, iengine: Engine, world: World) -> str:
    return mint_user_token(app, iengine, world, Role.vendor_member)


@pytest.fixture
def forge(app: FastAPI, user_token: str) -> Forge:
    return Forge(app, user_token)


def _assert_refused(api: TestClient, token: str) -> None:
    response = api.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    # GraphQL runs the same dependency.
    assert api.post("/graphql", json={"query": "{ me { subject } }"}, headers=bearer(token)).status_code == 401


def test_the_control_token_is_accepted(api: TestClient, forge: Forge, user_token: str) -> None:
    for token in (user_token, forge.token()):
        response = api.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 200, response.text
        assert response.json()["subject"].startswith("user:")


def _alg_none(forge: Forge) -> str:
    return f"{_segment({**forge.header, 'alg': 'none'})}.{_segment(forge.claims)}."


def _alg_none_with_signature(forge: Forge) -> str:
    return f"{_segment({**forge.header, 'alg': 'none'})}.{_segment(forge.claims)}.{_b64(b'x')}"


def _hs256_with_public_key(forge: Forge) -> str:
    public_pem = forge.signing.key.as_pem(private=False)
    signing_input = f"{_segment({**forge.header, 'alg': 'HS256'})}.{_segment(forge.claims)}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _hs256_with_public_jwk(forge: Forge) -> str:
    public_jwk = json.dumps(forge.signing.public_jwk(), separators=(",", ":")).encode()
    signing_input = f"{_segment({**forge.header, 'alg': 'HS256'})}.{_segment(forge.claims)}"
    return f"{signing_input}.{_b64(hmac.new(public_jwk, signing_input.encode(), hashlib.sha256).digest())}"


def _attacker_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


def _embedded_jwk(forge: Forge) -> str:
    attacker = _attacker_key()
    public = dict(attacker.as_dict(private=False))
    return forge.token(key=attacker, header={"jwk": public, "kid": forge.header["kid"]})


def _jku_elsewhere(forge: Forge) -> str:
    attacker = _attacker_key()
    return forge.token(key=attacker, header={"jku": "https://evil.example/jwks.json", "kid": "evil-1"})


def _jku_on_a_genuine_signature(forge: Forge) -> str:
    # Even signed by our own key, a token pointing at other keys is not one we issued: refused.
    return forge.token(header={"jku": "https://evil.example/jwks.json"})


def _unknown_kid(forge: Forge) -> str:
    return forge.token(key=_attacker_key(), header={"kid": "not-one-of-ours"})


def _right_kid_wrong_key(forge: Forge) -> str:
    return forge.token(key=_attacker_key())


def _rs256_other_key(forge: Forge) -> str:
    return forge.token(key=RSAKey.generate_key(2048, private=True), header={"alg": "RS256"})


def _tampered_payload(forge: Forge) -> str:
    genuine = forge.token()
    head, _, signature = genuine.split(".")
    return f"{head}.{_segment({**forge.claims, 'scope': 'admin', 'sub': 'user:1'})}.{signature}"


def _tampered_header(forge: Forge) -> str:
    genuine = forge.token()
    _, payload, signature = genuine.split(".")
    return f"{_segment({**forge.header, 'typ': 'JWT'})}.{payload}.{signature}"


def _not_an_access_token_type(forge: Forge) -> str:
    return forge.token(header={"typ": "JWT"})


def _expired(forge: Forge) -> str:
    now = int(time.time())
    return forge.token(iat=now - 7200, nbf=now - 7200, exp=now - 3600)


def _not_yet_valid(forge: Forge) -> str:
    return forge.token(nbf=int(time.time()) + 3600)


def _issued_in_the_future(forge: Forge) -> str:
    return forge.token(iat=int(time.time()) + 3600)


def _no_exp(forge: Forge) -> str:
    return forge.token(exp=None)


def _wrong_aud(forge: Forge) -> str:
    return forge.token(aud="https://another-api.example")


def _missing_aud(forge: Forge) -> str:
    return forge.token(aud=None)


def _wrong_iss(forge: Forge) -> str:
    return forge.token(iss="https://evil.example")


def _missing_iss(forge: Forge) -> str:
    return forge.token(iss=None)


def _other_subject(forge: Forge) -> str:
    # A genuine signature over someone else's subject would need our key: this checks the record binding.
    return forge.token(sub="user:999999")


CASES: dict[str, Callable[[Forge], str]] = {
    "alg-none": _alg_none,
    "alg-none-with-signature": _alg_none_with_signature,
    "hs256-signed-with-public-key-pem": _hs256_with_public_key,
    "hs256-signed-with-public-jwk": _hs256_with_public_jwk,
    "jwk-header-with-attacker-key": _embedded_jwk,
    "jku-header-pointing-elsewhere": _jku_elsewhere,
    "jku-header-on-genuine-signature": _jku_on_a_genuine_signature,
    "unknown-kid": _unknown_kid,
    "known-kid-wrong-key": _right_kid_wrong_key,
    "rs256-other-key": _rs256_other_key,
    "tampered-payload": _tampered_payload,
    "tampered-header": _tampered_header,
    "typ-not-at+jwt": _not_an_access_token_type,
    "expired": _expired,
    "nbf-in-the-future": _not_yet_valid,
    "iat-in-the-future": _issued_in_the_future,
    "no-exp": _no_exp,
    "wrong-aud": _wrong_aud,
    "missing-aud": _missing_aud,
    "wrong-iss": _wrong_iss,
    "missing-iss": _missing_iss,
    "subject-not-matching-record": _other_subject,
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_forged_token_is_refused(api: TestClient, forge: Forge, case: Callable[[Forge], str]) -> None:
    _assert_refused(api, case(forge))


@pytest.mark.parametrize(
    "value",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "Bearer not-a-jwt", "Bearer a.b.c"],
    ids=["empty", "no-token", "blank-token", "basic", "two-tokens", "opaque", "garbage-jwt"],
)
def test_malformed_authorization_headers_are_401(api: TestClient, value: str) -> None:
    response = api.get("/api/v1/me", headers={"Authorization": value})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_no_authorization_header_is_anonymous(api: TestClient) -> None:
    response = api.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["anonymous"] is True
    assert api.get("/api/v1/kpis?limit=1").status_code == 200


def test_a_refresh_token_is_not_an_access_token(api: TestClient, world: World) -> None:
    from urllib.parse import parse_qs, urlsplit

    from tests.identity.conftest import AUTHORIZE_URL, PASSWORD, REDIRECT_URI, browser_login, pkce_pair

    verifier, _ = pkce_pair()
    client = oauth_client(
        api, client_id=world.machines["public_spa"].client_id, redirect_uri=REDIRECT_URI, code_challenge_method="S256"
    )
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier)
    location = browser_login(api, url, world.actors[Role.city_official].email, PASSWORD).headers["location"]
    assert parse_qs(urlsplit(location).query)["code"]
    token = client.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)
    _assert_refused(api, token["refresh_token"])
    assert api.get("/api/v1/me", headers=bearer(token["access_token"])).status_code == 200


def test_a_disabled_user_or_client_loses_access(api: TestClient, app: FastAPI, iengine: Engine, world: World) -> None:
    from sqlmodel import Session, select

    from app.identity.models import OAuthClient, User

    token = mint_user_token(app, iengine, world, Role.admin)
    machine = world.machines["city_pipeline"]
    client_token = oauth_client(api, client_id=machine.client_id, client_secret=machine.secret).fetch_token(
        TOKEN_URL, grant_type="client_credentials"
    )["access_token"]
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert api.get("/api/v1/me", headers=bearer(client_token)).status_code == 200
    with Session(iengine) as session:
        user = session.get(User, world.actors[Role.admin].user_id)
        client = session.exec(select(OAuthClient).where(OAuthClient.client_id == machine.client_id)).one()
        assert user is not None
        user.is_active = False
        client.is_active = False
        session.add(user)
        session.add(client)
        session.commit()
    _assert_refused(api, token)
    _assert_refused(api, client_token)


# -------------------------------------------------------------------------------------------- key rotation


def test_key_rotation_keeps_the_previous_key_until_it_is_removed(api: TestClient, app: FastAPI, world: World) -> None:
    machine = world.machines["vendor_sync"]
    client = oauth_client(api, client_id=machine.client_id, client_secret=machine.secret)
    old = client.fetch_token(TOKEN_URL, grant_type="client_credentials")["access_token"]
    keys = auth_state(app).keys
    old_kid = keys.ring().signing.kid

    keys.rotate()
    ring = keys.ring()
    assert ring.signing.kid != old_kid
    assert {k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]} == {old_kid, ring.signing.kid}
    new = client.fetch_token(TOKEN_URL, grant_type="client_credentials")["access_token"]
    assert jwt.decode(new, ring.signing.key).header["kid"] == ring.signing.kid
    assert api.get("/api/v1/me", headers=bearer(old)).status_code == 200
    assert api.get("/api/v1/me", headers=bearer(new)).status_code == 200

    keys.remove(old_kid)
    assert {k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]} == {ring.signing.kid}
    _assert_refused(api, old)
    assert api.get("/api/v1/me", headers=bearer(new)).status_code == 200


def test_rotation_reaches_another_worker_through_the_key_file(
    api: TestClient, app: FastAPI, make_app: Callable[..., FastAPI], world: World
) -> None:
    """Two app instances over one data dir (two workers): one rotates, the other signs and verifies alike."""
    other = make_app()
    machine = world.machines["vendor_sync"]
    auth_state(other).keys.rotate()
    with TestClient(other, base_url="http://127.0.0.1:8000") as second:
        token = oauth_client(second, client_id=machine.client_id, client_secret=machine.secret).fetch_token(
            TOKEN_URL, grant_type="client_credentials"
        )["access_token"]
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert auth_state(app).keys.ring().signing.kid == auth_state(other).keys.ring().signing.kid


def test_the_key_file_is_private(app: FastAPI) -> None:
    from app.auth.keys import FileKeyStore

    keys = auth_state(app).keys
    assert isinstance(keys, FileKeyStore)
    assert keys.path.stat().st_mode & 0o777 == 0o600
    keys.rotate()
    assert keys.path.stat().st_mode & 0o777 == 0o600
