"""Twinnings: proposing one, and its lifecycle (one state machine), with who may take each step."""

from __future__ import annotations

from typing import Any

from app.identity.models import OrganisationKind, Role
from tests.api.writes_city.conftest import Env, assert_problem


def propose(env: Env, a: int, b: int, role: Role | None = Role.city_official, **more: Any) -> Any:
    body = {"city_a_id": a, "city_b_id": b, "focus_kpis": ["EN: EN: AQ: 1C"], "rationale": "clean air", **more}
    return env.http.post("/api/v1/twinnings", json=body, headers=env.auth(role))


def act(env: Env, twinning: dict[str, Any], action: str, headers: dict[str, str], **body: Any) -> Any:
    tag = env.http.get(f"/api/v1/twinnings/{twinning['id']}").headers["ETag"]
    return env.http.post(
        f"/api/v1/twinnings/{twinning['id']}/{action}", json=body or None, headers={**headers, "If-Match": tag}
    )


def test_an_official_proposes_and_the_other_city_answers_then_they_run_it(env: Env) -> None:
    bizerte = env.city_id("bizerte")
    response = propose(env, env.city_a, bizerte, focus_categories=["water and sanitation"])
    assert response.status_code == 201, response.text
    twinning = response.json()
    assert response.headers["Location"] == f"/api/v1/twinnings/{twinning['id']}"
    assert twinning["status"] == "proposed"
    assert twinning["proposed_by_city_id"] == env.city_a
    assert [k["slug"] for k in twinning["focus_kpis"]] == ["EN-EN-AQ-1C"]
    assert twinning["focus_categories"] == ["Water and Sanitation"]
    own_official = env.auth(Role.city_official)
    # The proposing city cannot accept its own proposal; the invited city's official can.
    body = assert_problem(act(env, twinning, "accept", own_official), 403, "invited city")
    assert body["type"].endswith("/forbidden")
    bizerte_official = env.new_user(Role.city_official, OrganisationKind.city, bizerte)
    accepted = act(env, twinning, "accept", bizerte_official, note="gladly")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["decided_at"] is not None
    assert accepted.headers["ETag"] == f'"twinning-{twinning["id"]}-v2"'
    # Either city runs it from there.
    assert act(env, twinning, "activate", own_official).json()["status"] == "active"
    done = act(env, twinning, "complete", bizerte_official)
    assert done.json()["status"] == "completed"
    assert done.json()["started_at"] is not None
    assert done.json()["ended_at"] is not None
    actions = [e["action"] for e in env.audit() if e["object_type"] == "twinning"]
    assert actions == ["twinning.propose", "twinning.accept", "twinning.activate", "twinning.complete"]
    accept_event = env.audit("twinning.accept")[0]
    assert accept_event["changes"]["status"] == {"from": "proposed", "to": "accepted"}
    assert accept_event["changes"]["note"] == "gladly"


def test_illegal_transitions_name_the_status_and_the_allowed_actions(env: Env) -> None:
    twinning = propose(env, env.city_a, env.city_id("bizerte"), role=Role.programme_coordinator).json()
    assert twinning["proposed_by_city_id"] is None
    coordinator = env.auth(Role.programme_coordinator)
    body = assert_problem(act(env, twinning, "complete", coordinator), 409, "proposed", "accept, decline, lapse")
    assert body["current_status"] == "proposed"
    assert body["allowed_actions"] == ["accept", "decline", "lapse"]
    assert act(env, twinning, "decline", coordinator).json()["status"] == "declined"
    final = assert_problem(act(env, twinning, "accept", coordinator), 409, "declined", "final")
    assert final["allowed_actions"] == []
    assert [e["action"] for e in env.audit() if e["object_type"] == "twinning"] == [
        "twinning.propose",
        "twinning.decline",
    ]


def test_if_match_is_required_and_checked_on_actions(env: Env) -> None:
    twinning = propose(env, env.city_a, env.city_id("bizerte"), role=Role.programme_coordinator).json()
    coordinator = env.auth(Role.programme_coordinator)
    url = f"/api/v1/twinnings/{twinning['id']}/accept"
    assert_problem(env.http.post(url, headers=coordinator), 428, "If-Match")
    stale = {**coordinator, "If-Match": f'"twinning-{twinning["id"]}-v0"'}
    assert_problem(env.http.post(url, headers=stale), 412)
    foreign = {**coordinator, "If-Match": '"city-1-v1"'}
    assert_problem(env.http.post(url, headers=foreign), 412)
    assert env.http.get(f"/api/v1/twinnings/{twinning['id']}").json()["status"] == "proposed"
    assert env.audit("twinning.accept") == []


def test_who_may_lapse_and_a_lapsed_pair_may_be_proposed_again(env: Env) -> None:
    bizerte = env.city_id("bizerte")
    twinning = propose(env, env.city_a, bizerte).json()
    bizerte_official = env.new_user(Role.city_official, OrganisationKind.city, bizerte)
    act(env, twinning, "accept", bizerte_official)
    assert_problem(act(env, twinning, "lapse", env.auth(Role.city_official)), 403, "programme")
    assert_problem(act(env, twinning, "lapse", bizerte_official), 403)
    assert act(env, twinning, "lapse", env.auth(Role.programme_coordinator)).json()["status"] == "lapsed"
    again = propose(env, bizerte, env.city_a, role=Role.admin)
    assert again.status_code == 201, again.text


def test_proposal_refusals(env: Env) -> None:
    bizerte, pully = env.city_id("bizerte"), env.city_id("pully")
    first = propose(env, env.city_a, bizerte).json()
    before = env.scalar("SELECT COUNT(*) FROM twinning")
    # The same pair, either way round, while the first is open.
    body = assert_problem(propose(env, bizerte, env.city_a, role=Role.programme_coordinator), 409, "already")
    assert body["existing_id"] == first["id"]
    problem = assert_problem(propose(env, env.city_a, env.city_a), 422, "two different cities")
    assert problem["type"].endswith("/validation-error")
    # Two cities that are not the official's own.
    assert_problem(propose(env, env.city_b, pully), 403, "Stavanger")
    assert_problem(propose(env, env.city_a, pully, role=Role.vendor_member), 403)
    assert_problem(propose(env, env.city_a, pully, role=Role.hub_curator), 403)
    assert_problem(propose(env, env.city_a, pully, role=None), 401)
    assert_problem(propose(env, env.city_a, 999_999), 422, "city_b_id")
    assert_problem(propose(env, env.city_a, pully, focus_kpis=["EN-EN-AQ-1C", "NOPE"]), 422, "'NOPE'")
    assert_problem(propose(env, env.city_a, pully, focus_categories=["Cooking"]), 422, "'Cooking'")
    assert_problem(propose(env, env.city_a, pully, status="active"), 422, "body.status")
    assert_problem(propose(env, env.city_a, pully, proposed_by_city_id=pully), 422)
    assert env.scalar("SELECT COUNT(*) FROM twinning") == before
    assert len(env.audit("twinning.propose")) == 1


def test_idempotency_key_on_proposals(env: Env) -> None:
    headers = {**env.auth(Role.programme_coordinator), "Idempotency-Key": "pair-1"}
    body = {"city_a_id": env.city_a, "city_b_id": env.city_id("pully")}
    first = env.http.post("/api/v1/twinnings", json=body, headers=headers)
    again = env.http.post("/api/v1/twinnings", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = env.http.post("/api/v1/twinnings", json={**body, "rationale": "x"}, headers=headers)
    assert_problem(other, 422, "pair-1")
    # Without the key, a second proposal for the pair is the 409 of an open twinning.
    assert_problem(env.http.post("/api/v1/twinnings", json=body, headers=env.auth(Role.admin)), 409)
