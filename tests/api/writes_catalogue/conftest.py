"""Fixtures for the catalogue writes: the identity suite's world (a user per role, each a member of its own "a"
city, vendor and hub; "b" is someone else's), a fresh copy of it per test, and real access tokens minted in it
as the token endpoint does (tests/identity/conftest.py).

`Api` wraps the client: `api.call("POST", path, Role.vendor_member, json=..., if_match=..., key=...)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.identity.models import Role
from app.main import create_app
from tests.conftest import DatabaseFactory, TestDatabase
from tests.identity.conftest import BASE_URL, World, bearer, mint_user_token

PROBLEM = "application/problem+json"
VENDOR = Role.vendor_member
ADMIN = Role.admin
CURATOR = Role.hub_curator
CITY = Role.city_official

# A listing complete enough to be submitted and published.
COMPLETE: dict[str, Any] = {
    "title": "Leak finder for small water utilities",
    "summary": "Finds leaks in district metered areas from night-flow data.",
    "description": "Hourly district meter data, a night-flow model, and a work list for the crews.",
    "categories": ["Water and Sanitation"],
    "sdgs": [6, 11],
    "maturity": "market_ready",
    "price_model": "subscription",
    "countries": ["NO", "SE"],
    "languages": ["nb", "en"],
    "standards": ["OGC SensorThings"],
    "kpi_impacts": [
        {"kpi": "EC-I-WS-3C", "expected_effect": 0.3, "evidence_level": "piloted"},
        {"kpi": "EN-EN-AQ-1C", "data_point": "PM10", "expected_effect": 0.05},
    ],
}


@dataclass
class Api:
    client: TestClient
    engine: Engine
    world: World
    app: FastAPI
    tokens: dict[Role, str] = field(default_factory=dict)

    def token(self, role: Role) -> str:
        if role not in self.tokens:
            self.tokens[role] = mint_user_token(self.app, self.engine, self.world, role)
        return self.tokens[role]

    def headers(self, role: Role | None, if_match: str | None = None, key: str | None = None) -> dict[str, str]:
        headers = bearer(self.token(role)) if role is not None else {}
        if if_match is not None:
            headers["If-Match"] = if_match
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def call(
        self,
        method: str,
        path: str,
        role: Role | None = None,
        *,
        json: Any = None,
        if_match: str | None = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        return self.client.request(method, path, json=json, params=params, headers=self.headers(role, if_match, key))

    def get(self, path: str, role: Role | None = None, **params: Any) -> httpx.Response:
        return self.call("GET", path, role, params=params or None)

    def etag(self, path: str, role: Role | None = ADMIN) -> str:
        response = self.get(path, role)
        assert response.status_code == 200, response.text
        return response.headers["ETag"]

    # -- listings

    def create(self, role: Role = VENDOR, **overrides: Any) -> dict[str, Any]:
        body = {**COMPLETE, "vendor_id": self.world.vendor["a"], **overrides}
        response = self.call("POST", "/api/v1/solutions", role, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def act(
        self, solution: dict[str, Any] | int, action: str, role: Role = VENDOR, note: str | None = None
    ) -> httpx.Response:
        sid = solution if isinstance(solution, int) else solution["id"]
        tag = self.etag(f"/api/v1/solutions/{sid}", ADMIN)
        body = {"note": note} if note is not None else None
        return self.call("POST", f"/api/v1/solutions/{sid}/{action}", role, json=body, if_match=tag)

    def moved(
        self, solution: dict[str, Any] | int, action: str, role: Role = VENDOR, note: str | None = None
    ) -> dict[str, Any]:
        response = self.act(solution, action, role, note)
        assert response.status_code == 200, response.text
        moved: dict[str, Any] = response.json()
        return moved

    def published(self, **overrides: Any) -> dict[str, Any]:
        created = self.create(**overrides)
        self.moved(created, "submit")
        return self.moved(created, "publish", ADMIN)

    # -- the database, read directly (independently of the services)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(r) for r in connection.execute(sa.text(sql), params).mappings().all()]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def audit(self, object_type: str, object_id: int | str) -> list[dict[str, Any]]:
        """The object's audit events, oldest first, read from the table (`changes` decoded)."""
        events = self.rows(
            "SELECT * FROM audit_event WHERE object_type = :t AND object_id = :i ORDER BY id",
            t=object_type,
            i=str(object_id),
        )
        for event in events:
            if isinstance(event["changes"], str):  # JSON comes back as text through a textual SELECT on SQLite
                event["changes"] = json.loads(event["changes"])
        return events


@pytest.fixture(scope="session")
def catalogue_template(world_template: tuple[TestDatabase, World]) -> tuple[TestDatabase, World]:
    """The shared world template (tests/conftest.py `world_template`): tests copy it, none writes to it."""
    return world_template


@pytest.fixture
def world(catalogue_template: tuple[TestDatabase, World]) -> World:
    return catalogue_template[1]


@pytest.fixture
def wdb(databases: DatabaseFactory, catalogue_template: tuple[TestDatabase, World]) -> TestDatabase:
    return databases.copy(catalogue_template[0])


@pytest.fixture
def wengine(wdb: TestDatabase) -> Iterator[Engine]:
    engine = wdb.engine()
    yield engine
    engine.dispose()


@pytest.fixture
def wapp(wdb: TestDatabase, wengine: Engine) -> FastAPI:
    return create_app(wdb.settings(), engine=wengine)


@pytest.fixture
def api(wapp: FastAPI, wengine: Engine, world: World) -> Iterator[Api]:
    with TestClient(wapp, base_url=BASE_URL) as client:
        yield Api(client, wengine, world, wapp)


def assert_problem(response: httpx.Response, status: int, *mentions: str) -> dict[str, Any]:
    """A problem+json answer with this status whose detail mentions each string."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    for text in mentions:
        assert text in body["detail"], body
    return body
