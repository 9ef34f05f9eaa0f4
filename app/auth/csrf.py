"""CSRF protection for the login form, without server-side sessions (double submit, signed).

GET /oauth/authorize sets a random nonce in a cookie (HttpOnly, SameSite=Lax, path /oauth) and puts a form
token in the page: `<issued-at>.<HMAC(secret, nonce, issued-at)>`. The POST is accepted only when the token
is fresh and was made for the nonce in the cookie the browser sent: another site can neither read the
token nor make the browser send a cookie of its choosing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

COOKIE_NAME = "citymarket_login_nonce"
FIELD_NAME = "form_token"
MAX_AGE_SECONDS = 20 * 60


class FormTokens:
    def __init__(self, secret_key: str, *, max_age: int = MAX_AGE_SECONDS) -> None:
        self._key = hashlib.sha256(b"citymarket login form|" + secret_key.encode()).digest()
        self.max_age = max_age

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def valid_nonce(nonce: str | None) -> bool:
        return nonce is not None and 20 <= len(nonce) <= 64 and all(c.isalnum() or c in "-_" for c in nonce)

    def _mac(self, nonce: str, issued_at: int) -> str:
        digest = hmac.new(self._key, f"{nonce}|{issued_at}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, nonce: str, *, now: int | None = None) -> str:
        issued_at = int(time.time()) if now is None else now
        return f"{issued_at}.{self._mac(nonce, issued_at)}"

    def verify(self, token: str | None, nonce: str | None, *, now: int | None = None) -> bool:
        if not token or not self.valid_nonce(nonce):
            return False
        assert nonce is not None
        issued, _, mac = token.partition(".")
        if not issued.isdigit():
            return False
        issued_at = int(issued)
        now = int(time.time()) if now is None else now
        if not (0 <= now - issued_at <= self.max_age):
            return False
        return hmac.compare_digest(mac, self._mac(nonce, issued_at))
