"""Paths of REST routes by name: both faces name a route, never spell its path (docs/architecture.md, "Each
write declared once"). GraphQL's creates record REST's request line for idempotency keys shared between the
faces, and both faces record the Location of what they made: a renamed path moves every use of it."""

from __future__ import annotations

from typing import Any

from starlette.routing import Router


def path_of(router: Router, name: str, **params: Any) -> str:
    """The path of `router`'s route named `name`, with its path parameters filled in (an unknown name or a
    missing parameter raises at once: starlette's NoMatchFound)."""
    return str(router.url_path_for(name, **params))
