"""Signing in to the dashboard: an OAuth 2 client (authorization code with PKCE, confidential) of the
service's own authorization server, its tokens kept in `dashboard_session`, the browser holding only a
random key in an HttpOnly, SameSite=Lax cookie (Secure when the service is served over https).

The code exchange, the refresh and the revocation go through the token endpoint's own code in this process
(`app.auth.router.token_endpoint_in_process`): the same client authentication, PKCE check, failure limits
and token families as for any other client, without HTTP to itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken as UndecryptableToken
from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from app.auth.principal import ANONYMOUS, Principal
from app.auth.router import token_endpoint_in_process
from app.auth.state import AuthState
from app.auth.tokens import InvalidToken
from app.core.config import Environment, Settings
from app.core.db import WRITES, unit_of_work
from app.core.models import utcnow
from app.dashboard.models import DashboardSession
from app.identity.service import (
    DASHBOARD_CLIENT_ID,
    DASHBOARD_SCOPES,
    dashboard_client_secret,
    ensure_dashboard_client,
)

COOKIE_NAME = "citymarket_dashboard"
CALLBACK_PATH = "/auth/callback"
PENDING_SECONDS = 15 * 60
REFRESH_MARGIN_SECONDS = 30


class SignInFailed(Exception):
    """The callback cannot complete the sign-in (the detail says why, in words for the page)."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _sealer(settings: Settings) -> Fernet:
    """Tokens are stored encrypted (Fernet, a key derived from the secret key): a copy of the database alone
    does not sign anyone in, as the authorization server stores only hashes of its refresh tokens."""
    digest = hashlib.sha256(b"citymarket dashboard tokens|" + settings.secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _seal(settings: Settings, token: str) -> str:
    return _sealer(settings).encrypt(token.encode()).decode() if token else ""


def _open(settings: Settings, sealed: str) -> str | None:
    """The token, or None when it cannot be read (the secret key changed): signed out."""
    try:
        return _sealer(settings).decrypt(sealed.encode()).decode() if sealed else None
    except UndecryptableToken:
        return None


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_base_url.rstrip('/')}{CALLBACK_PATH}"


def secure_cookies(settings: Settings) -> bool:
    return settings.env is Environment.production or settings.public_base_url.startswith("https://")


def set_cookie(response: Response, settings: Settings, key: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE_NAME, key, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings)
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings))


def safe_return_to(value: str | None) -> str:
    """Only a path of this site (never `//host` or a URL): an open redirect is a phishing tool."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return "/"
    return value


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def start(request: Request, settings: Settings, return_to: str | None) -> tuple[str, str]:
    """A pending sign-in: its cookie key, and the authorization URL to send the browser to."""
    key = secrets.token_urlsafe(32)
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(64)
    with unit_of_work(request.app.state.engine) as session:
        ensure_dashboard_client(session, settings.secret_key, redirect_uri(settings))
        session.execute(sa.delete(DashboardSession).where(col(DashboardSession.expires_at) < utcnow()))
        session.add(
            DashboardSession(
                key_hash=_hash(key),
                state=state,
                code_verifier=verifier,
                return_to=safe_return_to(return_to),
                expires_at=utcnow() + timedelta(seconds=PENDING_SECONDS),
            )
        )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": DASHBOARD_CLIENT_ID,
            "redirect_uri": redirect_uri(settings),
            "scope": " ".join(DASHBOARD_SCOPES),
            "state": state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return key, f"/oauth/authorize?{query}"


def _client_form(settings: Settings) -> list[tuple[str, str]]:
    return [("client_id", DASHBOARD_CLIENT_ID), ("client_secret", dashboard_client_secret(settings.secret_key))]


def _tokens(response: Response) -> dict[str, Any]:
    body = json.loads(bytes(response.body))
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        raise SignInFailed(str(detail or "The authorization server refused the sign-in."))
    return body


def _store_tokens(row: DashboardSession, tokens: dict[str, Any], settings: Settings) -> None:
    row.access_token = _seal(settings, str(tokens["access_token"]))
    if tokens.get("refresh_token"):
        row.refresh_token = _seal(settings, str(tokens["refresh_token"]))
    row.access_expires_at = utcnow() + timedelta(seconds=int(tokens.get("expires_in") or 0))
    row.expires_at = utcnow() + timedelta(seconds=settings.refresh_token_ttl_seconds)


def finish(
    request: Request, auth: AuthState, code: str | None, state: str | None, error: str | None
) -> tuple[str, str]:
    """The callback: check the state against this browser's pending sign-in, exchange the code, and
    issue a new cookie key. Returns (new key, where to go back to)."""
    key = request.cookies.get(COOKIE_NAME) or ""
    settings = auth.settings
    with unit_of_work(request.app.state.engine) as session:
        row = session.exec(select(DashboardSession).where(DashboardSession.key_hash == _hash(key))).first()
        if row is None or not row.state or row.expires_at < utcnow():
            raise SignInFailed("This sign-in was not started in this browser, or it has expired. Start again.")
        if not state or not hmac.compare_digest(state, row.state):
            raise SignInFailed("The sign-in answer does not belong to the sign-in this browser started. Start again.")
        if error or not code:
            session.delete(row)  # refused at the authorization server: this sign-in is over
            session.commit()
            raise SignInFailed(error or "No authorization code came back.")
        form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri(settings)),
            ("code_verifier", row.code_verifier),
            *_client_form(settings),
        ]
        tokens = _tokens(token_endpoint_in_process(request, session, auth, form))
        principal = auth.principal(session, str(tokens["access_token"]))
        new_key = secrets.token_urlsafe(32)
        row.key_hash = _hash(new_key)
        row.state = ""
        row.code_verifier = ""
        row.user_id = principal.user_id
        _store_tokens(row, tokens, settings)
        session.add(row)
        return new_key, row.return_to


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a page: the principal (ANONYMOUS when not signed in) and the cookie key that
    the page's forms are bound to (CSRF)."""

    principal: Principal
    key: str | None
    name: str = ""

    @property
    def signed_in(self) -> bool:
        return not self.principal.is_anonymous


def _refresh_in(session: Session, request: Request, auth: AuthState, row_id: int) -> str | None:
    row = session.get(DashboardSession, row_id)
    refresh_token = _open(auth.settings, row.refresh_token) if row is not None else None
    if row is None or refresh_token is None:
        return None
    form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token), *_client_form(auth.settings)]
    try:
        tokens = _tokens(token_endpoint_in_process(request, session, auth, form))
    except SignInFailed:
        session.delete(row)
        return None
    _store_tokens(row, tokens, auth.settings)
    session.add(row)
    return str(tokens["access_token"])


def _refresh(request: Request, session: Session, auth: AuthState, row_id: int) -> str | None:
    """A new access token from the refresh token (rotated), committed at once: a rotated refresh token
    that were lost would look like a stolen one next time, and revoke the sign-in. A POST's session
    already holds SQLite's write lock, so it refreshes in that session; a GET's reads, so in one of its own."""
    if session.info.get(WRITES):
        token = _refresh_in(session, request, auth, row_id)
        session.commit()
        return token
    with unit_of_work(request.app.state.engine) as writer:
        token = _refresh_in(writer, request, auth, row_id)
    # The reading session's transaction predates the new token's row (a snapshot, on SQLite's WAL as on
    # PostgreSQL): end it, so that the token is checked against the database as it is now.
    session.rollback()
    return token


def viewer(request: Request, session: Session, auth: AuthState) -> Viewer:
    """The signed-in principal of this browser, from the access token kept for its cookie (refreshed when
    it has expired), read with the same authenticator as a bearer token."""
    key = request.cookies.get(COOKIE_NAME)
    if not key:
        return Viewer(ANONYMOUS, None)
    row = session.exec(select(DashboardSession).where(DashboardSession.key_hash == _hash(key))).first()
    if row is None or not row.access_token or row.expires_at < utcnow():
        return Viewer(ANONYMOUS, None)
    token = _open(auth.settings, row.access_token)
    expires = row.access_expires_at
    if token is None or expires is None or expires - timedelta(seconds=REFRESH_MARGIN_SECONDS) < utcnow():
        token = _refresh(request, session, auth, row.id or 0)
    if token is None:
        return Viewer(ANONYMOUS, None)
    try:
        principal = auth.principal(session, token)
    except InvalidToken:
        return Viewer(ANONYMOUS, None)
    return Viewer(principal, key)


def sign_out(request: Request, session: Session, auth: AuthState) -> None:
    """Revoke the tokens (their whole family) and forget the session, in the POST's own session (the
    route commits)."""
    key = request.cookies.get(COOKIE_NAME) or ""
    row = session.exec(select(DashboardSession).where(DashboardSession.key_hash == _hash(key))).first()
    if row is None:
        return
    refresh_token = _open(auth.settings, row.refresh_token)
    if refresh_token is not None:
        form = [("token", refresh_token), ("token_type_hint", "refresh_token"), *_client_form(auth.settings)]
        token_endpoint_in_process(request, session, auth, form, revoke=True)
    session.delete(row)
