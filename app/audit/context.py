"""The request id an audit event is tied to, from the logging context the HTTP middleware binds
(`app.core.observability`); REST routes and GraphQL resolvers (thread pool included) see the same value."""

from __future__ import annotations

import structlog


def current_request_id() -> str:
    value = structlog.contextvars.get_contextvars().get("request_id", "")
    return str(value)[:64]
