"""A city's non-public KPI values: hidden from the public, shown to the callers allowed to read them."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.auth.principal import Membership, Principal, Scope
from app.identity.models import OrganisationKind, Role
from tests.api.conftest import acting_as, city_official, gql


def _make_private(engine: Engine) -> tuple[int, int]:
    """Turn the city with the most observations private; return its id and its number of data points."""
    with engine.begin() as connection:
        city_id, points = connection.execute(
            sa.text(
                "SELECT city_id, COUNT(DISTINCT data_point_id) FROM kpi_observation"
                " GROUP BY city_id ORDER BY COUNT(*) DESC, city_id LIMIT 1"
            )
        ).one()
        connection.execute(sa.text("UPDATE city SET data_public = :no WHERE id = :id"), {"no": False, "id": city_id})
    return int(city_id), int(points)


def _values(client: TestClient, city_id: int) -> tuple[bool, int]:
    body = client.get(f"/api/v1/cities/{city_id}").json()
    return body["kpi_values_visible"], len(body["latest_kpi_values"])


def test_private_values_only_for_allowed_callers(client: TestClient, engine: Engine) -> None:
    city_id, points = _make_private(engine)
    assert _values(client, city_id) == (False, 0)
    with acting_as(client, city_official(city_id, Scope.private_read)):
        assert _values(client, city_id) == (True, points)
        node = gql(
            client, "query ($id: Int!) { city(id: $id) { kpiValuesVisible latestKpiValues { kpi } } }", id=city_id
        )
        assert node["city"]["kpiValuesVisible"] is True
        assert len(node["city"]["latestKpiValues"]) == points
    # An official of another city, or this city's official without a scope that reads private data: no.
    with acting_as(client, city_official(city_id + 1, Scope.private_read, Scope.cities_write)):
        assert _values(client, city_id) == (False, 0)
    with acting_as(client, city_official(city_id, Scope.challenges_write)):
        assert _values(client, city_id) == (False, 0)
    coordinator = Principal(
        subject="user:9004",
        user_id=9004,
        memberships=(Membership(4, OrganisationKind.programme, None, Role.programme_coordinator),),
        scopes=frozenset({Scope.private_read.value}),
    )
    with acting_as(client, coordinator):
        assert _values(client, city_id) == (True, points)
    node = gql(client, "query ($id: Int!) { city(id: $id) { kpiValuesVisible latestKpiValues { kpi } } }", id=city_id)
    assert node["city"] == {"kpiValuesVisible": False, "latestKpiValues": []}
