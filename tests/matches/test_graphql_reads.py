"""The GraphQL reads REST already had: saved match runs (matchRuns, matchRun), the audit trail
(auditEvents), a city's KPI value history (cityKpiValues) and a listing's history (solutionHistory), each
compared with REST's answer and refusals on the same rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.audit import service as audit
from tests.api.conftest import acting_as, admin, gql, gql_errors, vendor_member
from tests.matches.conftest import city_id, official_of

RUNS = """query ($city: Int!, $kind: MatchKind, $first: Int!, $after: String) {
  matchRuns(cityId: $city, kind: $kind, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id cityId kind methodVersion parameters results createdByUserId createdAt } } } }"""
RUN = """query ($city: Int!, $run: Int!) { matchRun(cityId: $city, runId: $run) {
  id cityId kind methodVersion parameters results createdByUserId createdAt weights inputs ranking } }"""

CAMEL = {"city_id": "cityId", "method_version": "methodVersion", "created_by_user_id": "createdByUserId",
         "created_at": "createdAt"}  # fmt: skip


def _rest_shape(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL node with REST's field names and values (the enum as REST spells it, the time in ISO form)."""
    out = {next((k for k, v in CAMEL.items() if v == key), key): value for key, value in node.items()}
    out["kind"] = out["kind"].lower()
    return out


def _same_time(rest: str, graphql: str) -> bool:
    return rest.replace("Z", "+00:00")[:19] == graphql.replace("Z", "+00:00")[:19]


def test_match_runs_on_both_faces(client: TestClient, engine: Engine) -> None:
    karmoy = city_id(engine, "karmoy")
    official = official_of(engine, karmoy)
    with acting_as(client, official):
        for body in ({"kind": "solutions", "limit": 3}, {"kind": "twins", "limit": 2}, {"kind": "solutions"}):
            assert client.post(f"/api/v1/cities/{karmoy}/match-runs", json=body).status_code == 201
        rest = client.get(f"/api/v1/cities/{karmoy}/match-runs").json()
        rest_solutions = client.get(f"/api/v1/cities/{karmoy}/match-runs?kind=solutions").json()
        first_page = gql(client, RUNS, city=karmoy, first=2)["matchRuns"]
        second_page = gql(
            client, RUNS, city=karmoy, first=2, after=first_page["pageInfo"]["endCursor"]
        )["matchRuns"]  # fmt: skip
        solutions = gql(client, RUNS, city=karmoy, kind="solutions", first=10)["matchRuns"]
        newest = rest["items"][0]
        rest_run = client.get(f"/api/v1/cities/{karmoy}/match-runs/{newest['id']}").json()
        graphql_run = gql(client, RUN, city=karmoy, run=newest["id"])["matchRun"]

    assert rest["total"] == first_page["totalCount"] == 3
    assert first_page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first_page["edges"][0]["cursor"],
        "endCursor": first_page["edges"][1]["cursor"],
    }
    assert second_page["pageInfo"]["hasNextPage"] is False
    assert second_page["pageInfo"]["hasPreviousPage"] is True
    nodes = [_rest_shape(e["node"]) for e in first_page["edges"] + second_page["edges"]]
    for rest_item, node in zip(rest["items"], nodes, strict=True):
        assert _same_time(rest_item.pop("created_at"), node.pop("created_at"))
        assert node == rest_item
    assert [_rest_shape(e["node"])["id"] for e in solutions["edges"]] == [r["id"] for r in rest_solutions["items"]]
    assert solutions["totalCount"] == rest_solutions["total"] == 2
    graphql_shaped = _rest_shape(graphql_run)
    assert _same_time(rest_run.pop("created_at"), graphql_shaped.pop("created_at"))
    assert graphql_shaped == rest_run
    assert rest_run["ranking"]
    assert rest_run["inputs"]["values"]

    # The same refusals on both faces: no token (401), an official of another city (403), no such run (404).
    with engine.connect() as connection:
        elsewhere = connection.execute(sa.text("SELECT min(id) FROM city WHERE id <> :k"), {"k": karmoy}).scalar_one()
    other = official_of(engine, elsewhere, email="elsewhere@runs.test")
    checks = []
    for principal, query, variables, path in (
        (None, RUNS, {"city": karmoy, "first": 5}, f"/api/v1/cities/{karmoy}/match-runs"),
        (other, RUNS, {"city": karmoy, "first": 5}, f"/api/v1/cities/{karmoy}/match-runs"),
        (official, RUN, {"city": karmoy, "run": 999_999}, f"/api/v1/cities/{karmoy}/match-runs/999999"),
    ):
        if principal is None:
            status = client.get(path).status_code
            errors = gql_errors(client, query, **variables)
        else:
            with acting_as(client, principal):
                status = client.get(path).status_code
                errors = gql_errors(client, query, **variables)
        checks.append((status, errors[0]["extensions"]))
    assert [status for status, _ in checks] == [401, 403, 404]
    assert [ext["status"] for _, ext in checks] == [401, 403, 404]


EVENTS = """query ($action: String, $type: String, $object: String, $since: DateTime, $first: Int!, $after: String) {
  auditEvents(action: $action, objectType: $type, objectId: $object, since: $since, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id occurredAt actorUserId actorLabel action objectType objectId changes requestId } } } }"""
EVENT_NAMES = {"occurredAt": "occurred_at", "actorUserId": "actor_user_id", "actorLabel": "actor_label",
               "objectType": "object_type", "objectId": "object_id", "requestId": "request_id"}  # fmt: skip


def _all_events(client: TestClient, **variables: Any) -> tuple[int, list[dict[str, Any]]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = gql(client, EVENTS, first=2, after=after, **variables)["auditEvents"]
        nodes += [{EVENT_NAMES.get(k, k): v for k, v in e["node"].items()} for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return page["totalCount"], nodes
        after = page["pageInfo"]["endCursor"]


def test_audit_events_on_both_faces(client: TestClient, engine: Engine) -> None:
    karmoy = city_id(engine, "karmoy")
    official = official_of(engine, karmoy)
    with acting_as(client, official):
        runs = [client.post(f"/api/v1/cities/{karmoy}/match-runs", json={"kind": k}).json() for k in ("twins",) * 3]
        refused_official = (client.get("/api/v1/audit-events").status_code, gql_errors(client, EVENTS, first=5))
    refused_anonymous = (client.get("/api/v1/audit-events").status_code, gql_errors(client, EVENTS, first=5))
    assert refused_anonymous[0] == refused_anonymous[1][0]["extensions"]["status"] == 401
    assert refused_official[0] == refused_official[1][0]["extensions"]["status"] == 403

    with acting_as(client, admin()):
        for rest_params, variables in (
            ({}, {}),
            ({"action": "match_run.create"}, {"action": "match_run.create"}),
            ({"object_type": "match_run", "object_id": str(runs[1]["id"])},
             {"type": "match_run", "object": str(runs[1]["id"])}),
            ({"since": "2000-01-01T00:00:00Z"}, {"since": "2000-01-01T00:00:00Z"}),
        ):  # fmt: skip
            rest = client.get("/api/v1/audit-events", params={"limit": 100, **rest_params}).json()
            total, nodes = _all_events(client, **variables)
            assert total == rest["total"] == len(nodes) >= 1
            for rest_item, node in zip(rest["items"], nodes, strict=True):
                assert _same_time(rest_item.pop("occurred_at"), node.pop("occurred_at"))
                assert node == rest_item
        assert [n["object_id"] for n in _all_events(client, action="match_run.create")[1]] == [
            str(r["id"]) for r in reversed(runs)
        ]
        # The same refusal of a time without a zone, from the one check both faces call.
        naive = "2026-01-01T00:00:00"
        rest_refusal = client.get("/api/v1/audit-events", params={"since": naive})
        graphql_refusal = gql_errors(client, EVENTS, first=5, since=naive)[0]
    assert rest_refusal.status_code == graphql_refusal["extensions"]["status"] == 422
    assert "query.since" in rest_refusal.json()["detail"]
    assert "query.since" in graphql_refusal["message"]


VALUES = """query ($city: Int!, $kpi: String, $year: Int, $first: Int!, $after: String) {
  cityKpiValues(cityId: $city, kpi: $kpi, year: $year, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kpi kpiCode kpiName dataPoint year value unit dataQuality verified source note createdAt
                   updatedAt } } } }"""
HISTORY = """query ($solution: Int!, $first: Int!, $after: String) {
  solutionHistory(solutionId: $solution, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id occurredAt actorUserId actorLabel action objectType objectId changes requestId } } } }"""


def _pages(client: TestClient, query: str, field: str, **variables: Any) -> tuple[int, list[dict[str, Any]]]:
    """Every node of a connection, two at a time, with REST's field names."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = gql(client, query, first=2, after=after, **variables)[field]
        nodes += [{_snake(k): v for k, v in e["node"].items()} for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return page["totalCount"], nodes
        after = page["pageInfo"]["endCursor"]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _same_rows(rest: list[dict[str, Any]], nodes: list[dict[str, Any]], *times: str) -> None:
    assert len(rest) == len(nodes) >= 1
    for rest_item, node in zip(rest, nodes, strict=True):
        for name in times:
            assert _same_time(rest_item.pop(name), node.pop(name))
        if "data_quality" in node:
            node["data_quality"] = node["data_quality"].lower()
        assert node == rest_item


def test_kpi_value_and_listing_histories_on_both_faces(client: TestClient, engine: Engine) -> None:
    karmoy = city_id(engine, "karmoy")
    with engine.connect() as connection:
        private = connection.execute(sa.text("SELECT min(id) FROM city WHERE NOT data_public")).scalar_one()
        solution, vendor = connection.execute(
            sa.text("SELECT id, vendor_id FROM solution WHERE status = 'published' ORDER BY id LIMIT 1")
        ).one()

    # A city's KPI values: all of them, and filtered by KPI and by year.
    for rest_params, variables in (({}, {}), ({"kpi": "EC: I: WS: 3C"}, {"kpi": "EC: I: WS: 3C"})):
        rest = client.get(f"/api/v1/cities/{karmoy}/kpi-values", params={"limit": 100, **rest_params}).json()
        total, nodes = _pages(client, VALUES, "cityKpiValues", city=karmoy, **variables)
        assert total == rest["total"]
        _same_rows(rest["items"], nodes, "created_at", "updated_at")
    year = rest["items"][0]["year"]
    by_year = client.get(f"/api/v1/cities/{karmoy}/kpi-values", params={"limit": 100, "year": year}).json()
    assert _pages(client, VALUES, "cityKpiValues", city=karmoy, year=year)[0] == by_year["total"] >= 1

    # A listing's history: its vendor reads it on both faces; anonymous callers are refused on both.
    recorder = official_of(engine, karmoy)
    with Session(engine) as session:
        for action in ("solution.update", "solution.submit", "solution.publish"):
            audit.record(session, recorder, action, "solution", solution, {"note": action}, request_id="r-1")
        session.commit()
    with acting_as(client, vendor_member(vendor)):
        rest = client.get(f"/api/v1/solutions/{solution}/history", params={"limit": 100}).json()
        total, nodes = _pages(client, HISTORY, "solutionHistory", solution=solution)
    assert total == rest["total"] >= 3
    _same_rows(rest["items"], nodes, "occurred_at")

    # The same refusals to an anonymous caller: the listing's history, a private city's values, a year out of range.
    refusals = []
    for path, params, query, variables in (
        (f"/api/v1/solutions/{solution}/history", {}, HISTORY, {"solution": solution}),
        (f"/api/v1/cities/{private}/kpi-values", {}, VALUES, {"city": private}),
        (f"/api/v1/cities/{karmoy}/kpi-values", {"year": 1800}, VALUES, {"city": karmoy, "year": 1800}),
    ):
        status = client.get(path, params=params).status_code
        refusals.append((status, gql_errors(client, query, first=5, **variables)[0]["extensions"]["status"]))
    assert [rest for rest, _ in refusals] == [graphql for _, graphql in refusals]
    assert all(rest in (401, 403, 404, 422) for rest, _ in refusals)
    assert refusals[2] == (422, 422)
