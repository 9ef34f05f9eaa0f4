"""Trusting an external OpenID Connect issuer's access tokens (Keycloak, Azure AD, ...).

Settings name the issuer, its JWKS URL, the audience our API has there, and the claim carrying roles.
A role value is `<role>:<kind>:<id>` (`vendor_member:vendor:3`, `city_official:city:12`, `hub_curator:hub:2`)
or `<role>:<kind>` / `<role>` for the programme and the platform (`programme_coordinator`, `admin`);
`CITYMARKET_OIDC_ROLE_MAP` (JSON) translates the issuer's own values into that form first, e.g.
`{"Karmoy.Officials": "city_official:city:12"}`. Unknown values are ignored.

The JWKS is fetched over HTTPS, cached, and fetched again (at most every 30 s) when a token names a kid
that is not in the cached set, which is how issuers roll their keys.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from joserfc.jwk import KeySet

from app.auth.principal import ALL_SCOPES, ROLE_KIND, scopes_for_roles
from app.auth.tokens import InvalidToken, VerifiedToken, check_claims, peek, verify_signed
from app.core.config import Settings
from app.identity.models import OrganisationKind, Role

log = structlog.get_logger(__name__)

REFETCH_MIN_INTERVAL = 30


@dataclass(frozen=True)
class RoleClaim:
    role: Role
    kind: OrganisationKind
    target_id: int | None


def parse_role_value(value: str, role_map: dict[str, str]) -> RoleClaim | None:
    mapped = role_map.get(value, value)
    parts = mapped.split(":")
    try:
        role = Role(parts[0])
    except ValueError:
        return None
    kind = ROLE_KIND[role]
    if len(parts) >= 2 and parts[1] != kind.value:
        return None
    target_id: int | None = None
    if kind in (OrganisationKind.city, OrganisationKind.vendor, OrganisationKind.hub):
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        target_id = int(parts[2])
    elif len(parts) > 2:
        return None
    return RoleClaim(role=role, kind=kind, target_id=target_id)


def _claim_at(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def role_claims(claims: dict[str, Any], settings: Settings) -> list[RoleClaim]:
    raw = _claim_at(claims, settings.oidc_roles_claim)
    values = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    parsed = [parse_role_value(v, settings.oidc_role_map) for v in values if isinstance(v, str)]
    return [p for p in dict.fromkeys(parsed) if p is not None]


def token_scopes(claims: dict[str, Any], roles: list[RoleClaim], settings: Settings) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scp", ""))
    values = (
        raw.split() if isinstance(raw, str) else [v for v in raw if isinstance(v, str)] if isinstance(raw, list) else []
    )
    scopes = set(values) & ALL_SCOPES
    if settings.oidc_scopes_from_roles:
        scopes |= scopes_for_roles(r.role for r in roles)
    return frozenset(scopes)


class OidcIssuer:
    REQUIRED = ("sub", "exp")

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        if not (settings.oidc_issuer and settings.oidc_jwks_url and settings.oidc_audience):
            raise ValueError("CITYMARKET_OIDC_ISSUER, _OIDC_JWKS_URL and _OIDC_AUDIENCE go together.")
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.http = http or httpx.Client(timeout=5.0, follow_redirects=False)
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    def _fetch(self) -> KeySet:
        response = self.http.get(self.settings.oidc_jwks_url, headers={"accept": "application/json"})
        response.raise_for_status()
        data = response.json()
        # Only public signature keys of the pinned algorithms' types.
        keys = [
            k for k in data.get("keys", []) if isinstance(k, dict) and k.get("use", "sig") == "sig" and "d" not in k
        ]
        return KeySet.import_key_set({"keys": keys})

    def key_set(self, kid: str | None) -> KeySet:
        with self._lock:
            now = time.monotonic()
            stale = self._keys is None or now - self._fetched_at > self.settings.oidc_jwks_cache_seconds
            unknown = self._keys is not None and kid not in {k.kid for k in self._keys}
            if stale or (unknown and now - self._fetched_at > REFETCH_MIN_INTERVAL):
                try:
                    self._keys = self._fetch()
                    self._fetched_at = now
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    log.warning(
                        "cannot fetch the external issuer's JWKS", url=self.settings.oidc_jwks_url, error=str(exc)
                    )
                    if self._keys is None:
                        raise InvalidToken("The external issuer's keys cannot be fetched right now.") from exc
            assert self._keys is not None
            return self._keys

    def verify(self, token: str, *, now: int | None = None) -> VerifiedToken:
        header, _ = peek(token)
        kid = header.get("kid")
        keys = self.key_set(kid if isinstance(kid, str) else None)
        claims = verify_signed(token, header, keys, frozenset(self.settings.oidc_algorithms))
        check_claims(
            claims,
            issuer=self.issuer,
            audience=self.settings.oidc_audience,
            leeway=self.settings.jwt_leeway_seconds,
            required=self.REQUIRED,
            now=now,
        )
        return VerifiedToken("oidc", header, claims)
