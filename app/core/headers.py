"""Response headers every answer needs: a pure ASGI middleware (no BaseHTTPMiddleware: it would buffer
each response through a task and a memory stream, on every request).

- `X-Content-Type-Options: nosniff` everywhere: a browser must not read an uploaded CSV or a JSON error as
  HTML or script.
- `Vary: Authorization` everywhere: the same URL answers differently with a token (a private city's
  values, drafts), so a shared cache must never serve one caller's answer to another.
- `Cache-Control: no-store` on every answer to a request with credentials (`/me`, private KPI values,
  drafts, GraphQL as someone), unless the endpoint chose its own caching (the public JWKS, say).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CACHE_CONTROL = b"cache-control"
_VARY = b"vary"
_CREDENTIALS = (b"authorization", b"cookie")


def _has_credentials(scope: Scope) -> bool:
    return any(name in _CREDENTIALS for name, _ in scope.get("headers", ()))


def _with_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for index, (name, value) in enumerate(headers):
        if name.lower() == _VARY:
            if b"authorization" in value.lower() or value.strip() == b"*":
                return headers
            headers[index] = (name, value + b", Authorization")
            return headers
    headers.append((_VARY, b"Authorization"))
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = _has_credentials(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = _with_vary(list(message.get("headers", [])))
                headers.append((b"x-content-type-options", b"nosniff"))
                if private and not any(name.lower() == _CACHE_CONTROL for name, _ in headers):
                    headers.append((_CACHE_CONTROL, b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
