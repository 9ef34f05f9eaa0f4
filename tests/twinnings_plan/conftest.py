"""Fixtures of the twinning-plan suite: a fresh copy of the identity world per test (a user per role, city a
is Karmoy, city b Stavanger), real access tokens, and helpers that run a twinning through its lifecycle and
write KPI values through the API, as clients do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.cities.models import City
from app.identity.models import Role
from app.main import create_app
from tests.conftest import DatabaseFactory, TestDatabase
from tests.graphql.test_mutations import Gql
from tests.identity.conftest import BASE_URL, World

COORDINATOR = Role.programme_coordinator
OFFICIAL = Role.city_official  # Karmoy's (city a)
ADMIN = Role.admin
VENDOR = Role.vendor_member
KPI = "EC-I-WS-3C"  # Water Supply Loss: a percentage, lower is better; one data point


@dataclass
class Plan(Gql):
    """The REST and GraphQL helpers of the mutation suite, plus twinnings and KPI values."""

    def city(self, slug: str) -> int:
        with Session(self.engine) as session:
            return session.exec(select(City).where(City.slug == slug)).one().id or 0

    def move(self, twinning_id: int, action: str, role: Role = COORDINATOR) -> dict[str, Any]:
        tag = self.etag(f"/api/v1/twinnings/{twinning_id}", None)
        response = self.call("POST", f"/api/v1/twinnings/{twinning_id}/{action}", role, if_match=tag)
        assert response.status_code == 200, response.text
        moved: dict[str, Any] = response.json()
        return moved

    def twinning(self, city_a: int, city_b: int, status: str = "active") -> int:
        """A twinning proposed by the programme and moved through the API up to `status`."""
        response = self.call("POST", "/api/v1/twinnings", COORDINATOR, json={"city_a_id": city_a, "city_b_id": city_b})
        assert response.status_code == 201, response.text
        twinning_id: int = response.json()["id"]
        for action, reached in (("accept", "accepted"), ("activate", "active"), ("complete", "completed")):
            if status == "proposed":
                break
            self.move(twinning_id, action)
            if status == reached:
                break
        return twinning_id

    def values(self, city_id: int, role: Role, *rows: tuple[int, float], kpi: str = KPI) -> None:
        body = {
            "values": [
                {"kpi": kpi, "year": year, "value": value, "data_quality": "measured", "source": "twinplan test"}
                for year, value in rows
            ]
        }
        response = self.call("PUT", f"/api/v1/cities/{city_id}/kpi-values", role, json=body)
        assert response.status_code == 200, response.text

    def activity(self, twinning_id: int, role: Role = OFFICIAL, **fields: Any) -> dict[str, Any]:
        body = {"title": "Leak detection exchange", "start_date": "2026-02-01", "end_date": "2026-04-30", **fields}
        response = self.call("POST", f"/api/v1/twinnings/{twinning_id}/activities", role, json=body)
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made


def this_year() -> int:
    return datetime.now(UTC).year


@pytest.fixture
def plan(databases: DatabaseFactory, world_template: tuple[TestDatabase, World]) -> Iterator[Plan]:
    db = databases.copy(world_template[0])
    engine: Engine = db.engine()
    app: FastAPI = create_app(db.settings(), engine=engine)
    with TestClient(app, base_url=BASE_URL) as client:
        yield Plan(client, engine, world_template[1], app)
    engine.dispose()
