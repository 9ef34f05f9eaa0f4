"""JWT access tokens (RFC 9068): issued by our authorization server, verified by the resource server.

Verification trusts nothing in the token before its signature is checked: the algorithm must be one we
pinned, the key is picked by `kid` from our own key ring (or the trusted external issuer's JWKS) and never
from a `jwk`/`jku`/`x5u`/`x5c` header, and `exp`, `nbf`, `iat`, `iss` and `aud` are validated explicitly
(joserfc's decode checks the signature only).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from app.auth.keys import KeyRing, KeyStore
from app.core.config import Settings

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105  (a media type, not a secret)
# Header parameters that point at a key: an attacker's key is never taken from the token itself.
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})


class InvalidToken(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    jti: str
    expires_at: datetime
    claims: dict[str, Any]


def issue_access_token(
    ring: KeyRing,
    settings: Settings,
    *,
    subject: str,
    client_id: str,
    scope: str,
    now: int | None = None,
    ttl: int | None = None,
) -> IssuedAccessToken:
    now = int(time.time()) if now is None else now
    ttl = settings.access_token_ttl_seconds if ttl is None else ttl
    key = ring.signing
    jti = secrets.token_urlsafe(24)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": subject,
        "aud": settings.audience,
        "exp": now + ttl,
        "iat": now,
        "nbf": now,
        "jti": jti,
        "client_id": client_id,
        "scope": scope,
    }
    header = {"alg": key.alg, "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
    token = jwt.encode(header, claims, key.key, algorithms=[key.alg])
    return IssuedAccessToken(token=token, jti=jti, expires_at=datetime.fromtimestamp(now + ttl, UTC), claims=claims)


@dataclass(frozen=True)
class VerifiedToken:
    origin: Literal["local", "oidc"]
    header: dict[str, Any]
    claims: dict[str, Any]


def _b64_json(segment: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("The token is not a well-formed JWT.") from exc


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, UNVERIFIED: only to choose the issuer's keys, never to trust."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidToken("The token is not a JWT (a refresh token or an opaque string is not an access token).")
    header, claims = _b64_json(parts[0]), _b64_json(parts[1])
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("The token is not a well-formed JWT.")
    return header, claims


def verify_signed(
    token: str,
    header: dict[str, Any],
    keys: KeySet,
    algorithms: frozenset[str],
) -> dict[str, Any]:
    forbidden = FORBIDDEN_HEADERS & header.keys()
    if forbidden:
        raise InvalidToken(f"The token's header carries {', '.join(sorted(forbidden))}: refused.")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise InvalidToken(f"The token's algorithm {alg!r} is not accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in {k.kid for k in keys}:
        raise InvalidToken("The token was signed with an unknown key.")
    try:
        decoded = jwt.decode(token, keys, algorithms=sorted(algorithms))
    except (JoseError, ValueError) as exc:
        raise InvalidToken("The token's signature is not valid.") from exc
    return dict(decoded.claims)


def check_claims(
    claims: dict[str, Any],
    *,
    issuer: str,
    audience: str,
    leeway: int,
    required: tuple[str, ...],
    now: int | None = None,
) -> None:
    options: dict[str, Any] = {name: {"essential": True} for name in required}
    options["iss"] = {"essential": True, "value": issuer}
    options["aud"] = {"essential": True, "value": audience}
    registry = JWTClaimsRegistry(now=now, leeway=leeway, **options)
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidToken(f"The token is not valid here ({exc.error}: {exc.description or ''})".strip()) from exc
    scope = claims.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise InvalidToken("The token's scope claim is not a string.")


class LocalTokenVerifier:
    """Our own access tokens."""

    REQUIRED = ("sub", "exp", "iat", "nbf", "jti", "client_id")

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self.settings = settings
        self.keys = keys

    def verify(self, token: str, *, now: int | None = None, check_expiry: bool = True) -> VerifiedToken:
        header, _ = peek(token)
        typ = str(header.get("typ", "")).lower()
        if typ not in (ACCESS_TOKEN_TYPE, f"application/{ACCESS_TOKEN_TYPE}"):
            raise InvalidToken("The token is not an access token (typ must be at+jwt).")
        ring = self.keys.ring()
        claims = verify_signed(token, header, ring.verification_set(now), ring.algorithms(now))
        # Revocation looks up a token that may have expired: its signature still proves it is ours.
        checked = claims if check_expiry else {k: v for k, v in claims.items() if k not in ("exp", "nbf", "iat")}
        check_claims(
            checked,
            issuer=self.settings.issuer,
            audience=self.settings.audience,
            leeway=self.settings.jwt_leeway_seconds,
            required=self.REQUIRED if check_expiry else ("sub", "jti", "client_id"),
            now=now,
        )
        return VerifiedToken("local", header, claims)
