"""The domain routes are shared by every app of a process (app/core/routing.py) and keep what including
them per app gave: the app-wide parameter check and the serving app's dependency overrides."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.core.deps import page_request, plain_parameters
from app.core.routing import install_routers
from app.kpis.router import router as kpis_router
from app.main import create_app
from tests.conftest import TestDatabase, guarded_engine


@pytest.fixture
def make_app(read_db: TestDatabase) -> Iterator[Callable[[], FastAPI]]:
    engines = []

    def factory() -> FastAPI:
        engines.append(guarded_engine(read_db, "tests/test_app_routes.py"))
        return create_app(read_db.settings(), engine=engines[-1])

    yield factory
    for engine in engines:
        engine.dispose()


def _api_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/api/v1")]


def test_two_apps_share_the_route_objects_and_every_one_checks_its_parameters(
    make_app: Callable[..., FastAPI],
) -> None:
    first, second = make_app(), make_app()
    routes = _api_routes(first)
    assert len(routes) > 100
    assert [id(r) for r in routes] == [id(r) for r in _api_routes(second)]  # built once, not per app
    unchecked = [r.path for r in routes if plain_parameters not in [d.call for d in r.dependant.dependencies]]
    assert unchecked == []


def test_overrides_apply_to_the_serving_app_only(make_app: Callable[..., FastAPI]) -> None:
    overridden, plain = make_app(), make_app()

    def refuse() -> None:
        raise RuntimeError("overridden")

    overridden.dependency_overrides[page_request] = refuse
    with TestClient(plain) as client:
        assert client.get("/api/v1/kpis?limit=1").status_code == 200
    with (
        TestClient(overridden, raise_server_exceptions=True) as client,
        pytest.raises(RuntimeError, match="overridden"),
    ):
        client.get("/api/v1/kpis?limit=1")


def test_a_router_not_made_by_api_router_is_refused(make_app: Callable[..., FastAPI]) -> None:
    bare = APIRouter()
    bare.add_api_route("/api/v1/_bare", lambda: {}, methods=["GET"])
    with pytest.raises(TypeError, match="api_router"):
        install_routers(make_app(), [bare])
    install_routers(make_app(), [kpis_router])  # made by api_router: accepted
