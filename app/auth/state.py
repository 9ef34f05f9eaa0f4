"""What the auth machinery needs at run time, built once per app (`app.state.auth`), and the start-up check
that refuses missing or default secrets outside dev and test."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlmodel import Session

from app.auth.csrf import FormTokens
from app.auth.keys import KeyConfigurationError, KeyStore, key_store_for
from app.auth.oidc import OidcIssuer
from app.auth.principal import Principal
from app.auth.ratelimit import FailureLimiter
from app.auth.resource import Authenticator
from app.auth.tokens import LocalTokenVerifier
from app.core.config import DEFAULT_SECRET_KEY, Environment, Settings

MIN_SECRET_KEY_LENGTH = 32
# A trial on one's own machine (docker compose on localhost) may run production settings over http.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class AuthConfigurationError(KeyConfigurationError):
    """The service must not start with this configuration."""


def check_auth_configuration(settings: Settings) -> None:
    """Outside dev and test: a real CITYMARKET_SECRET_KEY and signing keys from CITYMARKET_JWT_PRIVATE_KEYS."""
    problems = []
    if settings.env not in (Environment.dev, Environment.test):
        if settings.secret_key == DEFAULT_SECRET_KEY or len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"CITYMARKET_SECRET_KEY is missing, the default, or shorter than {MIN_SECRET_KEY_LENGTH} characters: "
                "set a random value, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        if not settings.jwt_private_keys.strip():
            problems.append(
                "CITYMARKET_JWT_PRIVATE_KEYS is missing: the signing keys must be configured in "
                f"{settings.env.value}. Create one with `citymarket keys generate` and set it (a JWK set or PEM)."
            )
        parts = urlsplit(settings.issuer)
        if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            problems.append(
                f"The token issuer {settings.issuer!r} is not https: set CITYMARKET_PUBLIC_BASE_URL "
                "(or CITYMARKET_OAUTH_ISSUER) to the service's public https URL."
            )
    oidc = (settings.oidc_issuer, settings.oidc_jwks_url, settings.oidc_audience)
    if any(oidc) and not all(oidc):
        problems.append("CITYMARKET_OIDC_ISSUER, CITYMARKET_OIDC_JWKS_URL and CITYMARKET_OIDC_AUDIENCE go together.")
    if problems:
        raise AuthConfigurationError("citymarket cannot start with this configuration:\n- " + "\n- ".join(problems))


@dataclass
class AuthState:
    settings: Settings
    keys: KeyStore
    local: LocalTokenVerifier
    authenticator: Authenticator
    limiter: FailureLimiter
    form_tokens: FormTokens

    def principal(self, session: Session, token: str) -> Principal:
        return self.authenticator.principal(session, token)


def build_auth_state(
    settings: Settings,
    *,
    oidc_http: httpx.Client | None = None,
    limiter: FailureLimiter | None = None,
) -> AuthState:
    check_auth_configuration(settings)
    keys = key_store_for(settings)
    keys.ring()  # generate (embedded mode) or parse now: a broken key stops the start, not the first request
    local = LocalTokenVerifier(settings, keys)
    oidc = OidcIssuer(settings, oidc_http) if settings.oidc_issuer else None
    return AuthState(
        settings=settings,
        keys=keys,
        local=local,
        authenticator=Authenticator(settings, local, oidc),
        limiter=limiter or FailureLimiter.from_settings(settings),
        form_tokens=FormTokens(settings.secret_key),
    )
