"""Saved match runs: inputs and ranking frozen, however the catalogue and the city's values change."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.auth.principal import Scope
from app.identity.models import OrganisationKind, Role
from app.matches.models import MatchRun
from tests.api.conftest import acting_as, assert_problem
from tests.matches.conftest import city_id, observe, official_of, real_user

WATER_LOSS = "EC: I: WS: 3C"


def test_a_saved_run_keeps_its_ranking_after_the_catalogue_and_values_change(
    client: TestClient, engine: Engine
) -> None:
    karmoy = city_id(engine, "karmoy")
    official = official_of(engine, karmoy)
    with acting_as(client, official):
        response = client.post(f"/api/v1/cities/{karmoy}/match-runs", json={"kind": "solutions", "limit": 5})
        assert response.status_code == 201, response.text
        run = response.json()
        assert response.headers["location"] == f"/api/v1/cities/{karmoy}/match-runs/{run['id']}"
        live = client.get(f"/api/v1/cities/{karmoy}/solution-matches?limit=5").json()
    assert run["kind"] == "solutions"
    assert run["city_id"] == karmoy
    assert run["method_version"] == "u4ssc-match/3"
    assert run["created_by_user_id"] == official.user_id
    assert run["ranking"] == [item for item in live["items"]]
    # Need first: only four listings offered in Norway address a KPI where Karmoy has a gap.
    assert run["results"] == len(run["ranking"]) == 4
    assert run["parameters"]["scope"] == "country"
    assert run["parameters"]["limit"] == 5
    assert run["weights"]["similar_evidence_weight"] == 0.15
    assert run["weights"]["deployment_evidence"] == 1.0
    used = {(v["code"], v["data_point"]): v for v in run["inputs"]["values"]}
    assert used[(WATER_LOSS, "")]["value"] == 35.42
    assert used[(WATER_LOSS, "")]["benchmark"] == 10
    assert run["inputs"]["confidence"]["scored_kpis"] == live["confidence"]["scored_kpis"]
    top_id = run["ranking"][0]["solution"]["id"]

    # The catalogue changes (the top listing is archived, another one retitled) and so do Karmoy's values.
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE solution SET status = 'archived' WHERE id = :id"), {"id": top_id})
        connection.execute(
            sa.text("UPDATE solution SET title = 'Renamed' WHERE id = :id"), {"id": run["ranking"][1]["solution"]["id"]}
        )
    observe(engine, karmoy, WATER_LOSS, 8.0, year=2030)
    with acting_as(client, official):
        now = client.get(f"/api/v1/cities/{karmoy}/solution-matches?limit=5").json()
        assert top_id not in [i["solution"]["id"] for i in now["items"]]
        again = client.get(f"/api/v1/cities/{karmoy}/match-runs/{run['id']}")
        assert again.status_code == 200
        assert again.json() == run
        assert again.headers["etag"] == f'"match_run-{run["id"]}-v1"'
        assert (
            client.get(
                f"/api/v1/cities/{karmoy}/match-runs/{run['id']}", headers={"if-none-match": again.headers["etag"]}
            ).status_code
            == 304
        )
        # A new run sees the new state.
        newer = client.post(f"/api/v1/cities/{karmoy}/match-runs", json={"kind": "solutions", "limit": 5}).json()
        assert newer["ranking"] == now["items"] != run["ranking"]
        listed = client.get(f"/api/v1/cities/{karmoy}/match-runs").json()
        assert [r["id"] for r in listed["items"]] == [newer["id"], run["id"]]
        assert listed["total"] == 2
        assert client.get(f"/api/v1/cities/{karmoy}/match-runs?kind=twins").json()["total"] == 0


def test_twin_runs_idempotency_and_audit(client: TestClient, engine: Engine) -> None:
    karmoy = city_id(engine, "karmoy")
    coordinator = real_user(
        engine,
        "coordinator@matches.test",
        OrganisationKind.programme,
        None,
        Role.programme_coordinator,
        Scope.private_read,
    )
    headers = {"Idempotency-Key": "twins-1"}
    with acting_as(client, coordinator):
        first = client.post(f"/api/v1/cities/{karmoy}/match-runs", json={"kind": "twins", "limit": 3}, headers=headers)
        assert first.status_code == 201, first.text
        replay = client.post(f"/api/v1/cities/{karmoy}/match-runs", json={"kind": "twins", "limit": 3}, headers=headers)
        assert replay.status_code == 201
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == first.json()
        reused = client.post(f"/api/v1/cities/{karmoy}/match-runs", json={"kind": "twins", "limit": 4}, headers=headers)
        assert_problem(reused, 422, "twins-1")
        twins = client.get(f"/api/v1/cities/{karmoy}/twin-matches?limit=3").json()
    run = first.json()
    assert run["ranking"] == twins["items"]
    assert run["parameters"]["eligible"] is True
    with Session(engine) as session:
        assert len(session.exec(select(MatchRun)).all()) == 1
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "match_run.create")).all()
        assert len(events) == 1
        assert events[0].object_id == str(run["id"])
        assert events[0].actor_user_id == coordinator.user_id
        assert events[0].changes["kind"] == "twins"


def test_bad_runs_are_refused_and_leave_nothing(client: TestClient, engine: Engine) -> None:
    karmoy = city_id(engine, "karmoy")
    official = official_of(engine, karmoy)
    path = f"/api/v1/cities/{karmoy}/match-runs"
    assert_problem(client.post(path, json={"kind": "solutions"}), 401)
    with acting_as(client, official):
        assert_problem(client.post(path, json={"kind": "twins", "scope": "all"}), 422, "scope")
        assert_problem(client.post(path, json={"kind": "solutions", "owner": 3}), 422, "body.owner")
        assert_problem(client.post(path, json={"kind": "stars"}), 422, "body.kind")
        assert_problem(client.post(path, json={"kind": "solutions", "limit": 0}), 422, "body.limit")
        assert_problem(client.post(path, json={"kind": "solutions", "hub": 99999}), 422, "hub")
        assert_problem(client.get(f"{path}/99999"), 404, "99999")
    other = official_of(engine, city_id(engine, "stavanger"), email="stavanger@matches.test")
    with acting_as(client, other):
        assert_problem(client.post(path, json={"kind": "solutions"}), 403, "officials")
        assert_problem(client.get(path), 403)
    with Session(engine) as session:
        assert session.exec(select(MatchRun)).all() == []
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "match_run.create")).all() == []
