"""A twinning's activities over REST: the story (create, list paged, edit with If-Match, delete), idempotent
creates, validation as problem+json, the lifecycle rule (only while active, 409 otherwise) and who may write
(docs/architecture.md, "Twinning plans")."""

from __future__ import annotations

from typing import Any

from app.identity.models import Role
from tests.api.writes_catalogue.conftest import assert_problem
from tests.twinnings_plan.conftest import ADMIN, COORDINATOR, KPI, OFFICIAL, VENDOR, Plan

CURATOR = Role.hub_curator


def _count(plan: Plan) -> int:
    return int(plan.scalar("SELECT count(*) FROM twinning_activity"))


def test_an_official_plans_activities_lists_them_edits_and_deletes_one(plan: Plan) -> None:
    twinning = plan.twinning(plan.world.city["a"], plan.city("bizerte"))
    base = f"/api/v1/twinnings/{twinning}/activities"
    first = plan.activity(twinning, kpis=["EC: ICT: WS: 1C", KPI], description="Two visits.\nOne report.")
    # In KPI code order, whatever the order given.
    assert [k["slug"] for k in first["kpis"]] == ["EC-I-WS-3C", "EC-ICT-WS-1C"]
    assert first["kpis"][0] == {"slug": "EC-I-WS-3C", "code": "EC: I: WS: 3C", "name": "Water Supply Loss"}
    assert (first["status"], first["milestone"], first["version"]) == ("planned", False, 1)
    milestone = plan.activity(
        twinning, title="Tender published", start_date="2026-01-15", end_date="2026-01-15", milestone=True
    )
    # By start date: the milestone (15 January) first; paged with a cursor.
    page = plan.get(base, None, limit=1).json()
    assert (page["total"], [a["id"] for a in page["items"]]) == (2, [milestone["id"]])
    rest = plan.get(base, None, limit=1, cursor=page["next_cursor"]).json()
    assert [a["id"] for a in rest["items"]] == [first["id"]]
    assert rest["next_cursor"] is None

    path = f"{base}/{first['id']}"
    tag = plan.etag(path, None)
    assert tag == f'"twinning_activity-{first["id"]}-v1"'
    assert_problem(plan.call("PATCH", path, OFFICIAL, json={"status": "in_progress"}), 428, "If-Match")
    edited = plan.call("PATCH", path, OFFICIAL, json={"status": "in_progress", "kpis": [KPI]}, if_match=tag)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["status"], body["version"], [k["slug"] for k in body["kpis"]]) == ("in_progress", 2, [KPI])
    assert edited.headers["ETag"] == f'"twinning_activity-{first["id"]}-v2"'
    assert body["title"] == first["title"]
    assert body["description"] == "Two visits.\nOne report."
    assert_problem(plan.call("PATCH", path, OFFICIAL, json={"status": "done"}, if_match=tag), 412, "changed")

    assert plan.call("DELETE", path, OFFICIAL).status_code == 204
    assert_problem(plan.get(path), 404, f"no activity with id {first['id']}")
    assert plan.get(base).json()["total"] == 1

    actions = [(e["action"], e["changes"].get("activity_id")) for e in plan.audit("twinning", twinning)]
    assert actions[-4:] == [
        ("twinning.activity.create", first["id"]),
        ("twinning.activity.create", milestone["id"]),
        ("twinning.activity.update", first["id"]),
        ("twinning.activity.delete", first["id"]),
    ]
    update = plan.audit("twinning", twinning)[-2]["changes"]
    assert update["status"] == {"from": "planned", "to": "in_progress"}


def test_a_create_with_the_same_idempotency_key_makes_one_activity(plan: Plan) -> None:
    twinning = plan.twinning(plan.world.city["a"], plan.city("bizerte"))
    path = f"/api/v1/twinnings/{twinning}/activities"
    body = {"title": "Study visit", "start_date": "2026-05-04", "end_date": "2026-05-06", "kpis": [KPI]}
    first = plan.call("POST", path, OFFICIAL, json=body, key="visit-1")
    again = plan.call("POST", path, OFFICIAL, json=body, key="visit-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert first.headers["Location"].endswith(f"/activities/{first.json()['id']}")
    other = plan.call("POST", path, OFFICIAL, json={**body, "title": "Another"}, key="visit-1")
    assert other.status_code == 422, other.text
    assert _count(plan) == 1


def _errors(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in body.get("errors", [])}


def test_bad_activities_are_refused_as_problems_naming_the_field(plan: Plan) -> None:
    twinning = plan.twinning(plan.world.city["a"], plan.city("bizerte"))
    path = f"/api/v1/twinnings/{twinning}/activities"
    good = {"title": "Visit", "start_date": "2026-05-04", "end_date": "2026-05-06"}

    reversed_dates = assert_problem(
        plan.call("POST", path, OFFICIAL, json={**good, "start_date": "2026-05-07"}), 422, "start_date"
    )
    assert any("start_date (2026-05-07) is after end_date (2026-05-06)" in m for m in _errors(reversed_dates).values())
    unknown = assert_problem(
        plan.call("POST", path, OFFICIAL, json={**good, "kpis": [KPI, "NOT-A-KPI"]}), 422, "'NOT-A-KPI'"
    )
    assert _errors(unknown) == {"body.kpis": "unknown KPI 'NOT-A-KPI'"}
    status = assert_problem(plan.call("POST", path, OFFICIAL, json={**good, "status": "cancelled"}), 422)
    assert "body.status" in _errors(status)
    assert "body.title" in _errors(assert_problem(plan.call("POST", path, OFFICIAL, json={**good, "title": ""}), 422))
    assert "body.colour" in _errors(assert_problem(plan.call("POST", path, OFFICIAL, json={**good, "colour": 1}), 422))
    assert _count(plan) == 0

    made = plan.activity(twinning, **good)
    one = f"{path}/{made['id']}"
    tag = plan.etag(one, None)
    # Moving only the start past the (kept) end date: refused, naming the field sent.
    moved = assert_problem(plan.call("PATCH", one, OFFICIAL, json={"start_date": "2026-06-01"}, if_match=tag), 422)
    assert list(_errors(moved)) == ["body.start_date"]
    assert "2026-06-01" in moved["detail"]
    assert_problem(plan.call("PATCH", one, OFFICIAL, json={"kpis": ["nope"]}, if_match=tag), 422, "'nope'")
    both = plan.call("PATCH", one, OFFICIAL, json={"start_date": "2026-06-01", "end_date": "2026-06-02"}, if_match=tag)
    assert both.status_code == 200, both.text
    assert plan.get(f"{path}/999999").status_code == 404


def test_the_plan_changes_only_while_the_twinning_is_active(plan: Plan) -> None:
    karmoy, bizerte, pully = plan.world.city["a"], plan.city("bizerte"), plan.city("pully")
    body = {"title": "Too early or too late", "start_date": "2026-05-04", "end_date": "2026-05-06"}
    for partner, status, why in ((bizerte, "proposed", "not started yet"), (pully, "accepted", "not started yet")):
        twinning = plan.twinning(karmoy, partner, status)
        problem = assert_problem(
            plan.call("POST", f"/api/v1/twinnings/{twinning}/activities", OFFICIAL, json=body), 409, status, why
        )
        assert (problem["type"].rsplit("/", 1)[-1], problem["current_status"]) == ("twinning-not-active", status)
    running = plan.twinning(karmoy, plan.city("rana"))
    made = plan.activity(running)
    path = f"/api/v1/twinnings/{running}/activities/{made['id']}"
    tag = plan.etag(path, None)
    plan.move(running, "complete", OFFICIAL)
    assert_problem(plan.call("PATCH", path, OFFICIAL, json={"status": "done"}, if_match=tag), 409, "completed", "over")
    assert_problem(plan.call("DELETE", path, OFFICIAL), 409, "completed")
    assert_problem(plan.call("POST", f"/api/v1/twinnings/{running}/activities", ADMIN, json=body), 409, "completed")
    # Still readable, by anyone, as the twinning is.
    assert plan.get(path).json()["status"] == "planned"
    assert _count(plan) == 1


def test_only_the_two_cities_officials_and_the_programme_write_the_plan(plan: Plan) -> None:
    # Stavanger and Bizerte: a twinning that is not Karmoy's, so Karmoy's official is another city's.
    theirs = plan.twinning(plan.world.city["b"], plan.city("bizerte"))
    path = f"/api/v1/twinnings/{theirs}/activities"
    body = {"title": "Not yours", "start_date": "2026-05-04", "end_date": "2026-05-06"}
    assert_problem(plan.call("POST", path, OFFICIAL, json=body), 403, "official of one of the two cities")
    assert_problem(plan.call("POST", path, VENDOR, json=body), 403)
    assert_problem(plan.call("POST", path, CURATOR, json=body), 403)
    assert_problem(plan.call("POST", path, None, json=body), 401)
    assert _count(plan) == 0

    made = plan.activity(theirs, COORDINATOR)  # the programme runs every twinning
    one = f"{path}/{made['id']}"
    tag = plan.etag(one, None)
    for role in (OFFICIAL, VENDOR, None):
        refused = plan.call("PATCH", one, role, json={"title": "Taken over"}, if_match=tag)
        assert refused.status_code == (401 if role is None else 403), refused.text
        gone = plan.call("DELETE", one, role)
        assert gone.status_code == (401 if role is None else 403), gone.text
    assert plan.get(one).json()["title"] == made["title"] == "Leak detection exchange"
    assert _count(plan) == 1
