"""Routes built once per process and shared by every app of it (docs/architecture.md, section 5).

FastAPI (0.16x) builds an included router's routes lazily, per app: the first request an app answers builds
the validators of every route of every router it tries before the matching one (pydantic `TypeAdapter`s for
each parameter and response model), about 0.25 s of CPU, and an app that tries a router for the first time pays
again. A worker pays it once; the test suite, which makes an app per database copy, paid it several hundred
times. The domain routers are therefore made with `api_router()`, whose routes FastAPI builds once when the
module is imported, and `install_routers()` puts those very route objects into each app.

Two things `include_router` gave those routes are given here instead: the app-wide dependency
(`plain_parameters`, in the router's own dependencies) and `app.dependency_overrides` (FastAPI's documented
seam, used by the tests' `acting_as`), looked up in the app serving the request (`CitymarketApp` records it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from app.core.deps import plain_parameters

_SERVING_APP: ContextVar[FastAPI | None] = ContextVar("citymarket_serving_app", default=None)


class _ServingAppOverrides:
    """FastAPI's `dependency_overrides_provider` for shared routes: the overrides of the app serving this
    request (none outside a request)."""

    @property
    def dependency_overrides(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        app = _SERVING_APP.get()
        return app.dependency_overrides if app is not None else {}


SERVING_APP_OVERRIDES = _ServingAppOverrides()


class CitymarketApp(FastAPI):
    """FastAPI, recording which app serves the current request (for `SERVING_APP_OVERRIDES`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _SERVING_APP.set(self)
        try:
            await super().__call__(scope, receive, send)
        finally:
            _SERVING_APP.reset(token)


def api_router(**options: Any) -> APIRouter:
    """A domain's router: its routes carry the app-wide dependency and honour the serving app's overrides."""
    return APIRouter(
        dependencies=[Depends(plain_parameters), *options.pop("dependencies", [])],
        dependency_overrides_provider=SERVING_APP_OVERRIDES,
        **options,
    )


def install_routers(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Add the routers' own route objects to `app`, in order (no per-app copy to build on first request)."""
    for router in routers:
        if router.dependency_overrides_provider is not SERVING_APP_OVERRIDES:
            raise TypeError(f"{router!r} was not made with app.core.routing.api_router(): it would miss the "
                            "app-wide dependencies")  # fmt: skip
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(f"{route!r}: only path operations can be shared between apps")
            app.router.routes.append(route)
