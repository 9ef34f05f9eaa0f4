"""REST and GraphQL say the same about a twinning's plan: the Twinning type's activities, outcome and progress
fields answer what GET .../activities, .../outcome and .../progress answer, and each mutation does what its REST
write does, with the same refusals (docs/architecture.md, "Twinning plans")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.twinnings_plan.conftest import ADMIN, COORDINATOR, KPI, OFFICIAL, VENDOR, Plan, this_year

CITY_SIDE = "cityId visible before { year value } after { year value } change improved"
READ = f"""
query Plan($id: Int!) {{
  twinning(id: $id) {{
    activities(first: 50) {{
      totalCount
      edges {{ node {{ id twinningId title description startDate endDate milestone status version kpis {{ slug }} }} }}
    }}
    outcome {{ twinningId summary version kpiNotes {{ kpi {{ slug }} note }} }}
    progress {{
      twinningId baselineAt endAt completed
      kpis {{
        kpi {{ slug }} unit direction outcomeNote
        dataPoints {{ key unit direction cityA {{ {CITY_SIDE} }} cityB {{ {CITY_SIDE} }} }}
      }}
    }}
  }}
}}
"""
ACTIVITY_FIELDS = "id title startDate endDate status version milestone kpis { slug }"
ERROR = "... on MutationError { code message fieldErrors { field message } currentStatus currentVersion }"
CREATE = f"""
mutation Create($t: Int!, $input: TwinningActivityCreateInput!, $key: String) {{
  createTwinningActivity(twinningId: $t, input: $input, idempotencyKey: $key) {{
    __typename ... on TwinningActivity {{ {ACTIVITY_FIELDS} }} {ERROR}
  }}
}}
"""
UPDATE = f"""
mutation Update($t: Int!, $id: Int!, $v: Int!, $input: TwinningActivityUpdateInput!) {{
  updateTwinningActivity(twinningId: $t, id: $id, expectedVersion: $v, input: $input) {{
    __typename ... on TwinningActivity {{ {ACTIVITY_FIELDS} }} {ERROR}
  }}
}}
"""
DELETE = f"""
mutation Delete($t: Int!, $id: Int!) {{
  deleteTwinningActivity(twinningId: $t, id: $id) {{ __typename ... on Deleted {{ id }} {ERROR} }}
}}
"""
OUTCOME = f"""
mutation Outcome($t: Int!, $input: TwinningOutcomeInput!) {{
  recordTwinningOutcome(twinningId: $t, input: $input) {{
    __typename ... on TwinningOutcome {{ twinningId summary version kpiNotes {{ kpi {{ slug }} note }} }} {ERROR}
  }}
}}
"""


def snake(value: Any) -> Any:
    """A GraphQL answer in REST's words: snake_case keys, a KPI as its slug."""
    if isinstance(value, dict):
        if set(value) == {"slug"}:
            return value["slug"]
        return {"".join(f"_{c.lower()}" if c.isupper() else c for c in k): snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake(v) for v in value]
    return value


def slugs(rest: Any) -> Any:
    """A REST answer with each KPI reference as its slug (GraphQL's `kpi { slug }`)."""
    if isinstance(rest, dict):
        if set(rest) == {"slug", "code", "name"}:
            return rest["slug"]
        return {k: slugs(v) for k, v in rest.items()}
    if isinstance(rest, list):
        return [slugs(v) for v in rest]
    return rest


def _state(plan: Plan) -> tuple[Any, ...]:
    """The plan's tables and the mutation suite's snapshot: equal states mean nothing was written."""
    tables = ("twinning_activity", "twinning_activity_kpi", "twinning_outcome", "idempotency_record")
    return plan.snapshot(), *(plan.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables)


def _completed_with_a_plan(plan: Plan, partner: str) -> int:
    year = this_year()
    karmoy = plan.world.city["a"]
    plan.values(karmoy, OFFICIAL, (year - 1, 35.0))
    twinning = plan.twinning(karmoy, plan.city(partner))
    plan.activity(twinning, kpis=[KPI, "EN-EN-AQ-1C"], description="Two visits.")
    plan.activity(twinning, title="Milestone", start_date="2026-01-10", end_date="2026-01-10", milestone=True)
    plan.values(karmoy, OFFICIAL, (year, 31.0))
    plan.move(twinning, "complete")
    body = {"summary": "Done.", "kpi_notes": [{"kpi": KPI, "note": "Fell by four points."}]}
    assert plan.call("PUT", f"/api/v1/twinnings/{twinning}/outcome", COORDINATOR, json=body).status_code == 201
    return twinning


def test_the_twinning_type_reads_the_plan_as_rest_does(plan: Plan) -> None:
    public = _completed_with_a_plan(plan, "bizerte")
    for role in (None, ADMIN):
        body = plan.post(READ, role, id=public)
        assert "errors" not in body, body
        graph = body["data"]["twinning"]
        activities = plan.get(f"/api/v1/twinnings/{public}/activities", role, limit=50).json()
        assert graph["activities"]["totalCount"] == activities["total"] == 2
        rest_items = [
            {k: v for k, v in a.items() if k not in ("created_at", "updated_at")} for a in slugs(activities["items"])
        ]
        assert [snake(e["node"]) for e in graph["activities"]["edges"]] == rest_items
        assert snake(graph["outcome"]) == {
            k: v
            for k, v in slugs(plan.get(f"/api/v1/twinnings/{public}/outcome", role).json()).items()
            if k not in ("created_at", "updated_at")
        }
        rest = slugs(plan.get(f"/api/v1/twinnings/{public}/progress", role).json())
        progress = snake(graph["progress"])
        for instant in ("baseline_at", "end_at"):
            assert datetime.fromisoformat(progress.pop(instant)) == datetime.fromisoformat(rest.pop(instant))
        assert progress == rest
        assert [(k["kpi"], k["outcome_note"]) for k in rest["kpis"]] == [
            (KPI, "Fell by four points."),
            ("EN-EN-AQ-1C", None),
        ]


def test_a_private_city_is_hidden_alike_on_both_faces(plan: Plan) -> None:
    private = _completed_with_a_plan(plan, "dubai")
    plan.values(plan.city("dubai"), ADMIN, (this_year() - 1, 12.0))
    for role, visible in ((None, False), (OFFICIAL, False), (ADMIN, True)):
        graph = snake(plan.post(READ, role, id=private)["data"]["twinning"]["progress"])
        rest = slugs(plan.get(f"/api/v1/twinnings/{private}/progress", role).json())
        sides = [p["city_b"] for k in graph["kpis"] for p in k["data_points"]]
        assert sides == [p["city_b"] for k in rest["kpis"] for p in k["data_points"]]
        assert {s["visible"] for s in sides} == {visible}
        assert any(s["before"] is not None for s in sides) is visible


def test_the_plan_mutations_write_and_refuse_as_rest_does(plan: Plan) -> None:
    twinning = plan.twinning(plan.world.city["a"], plan.city("bizerte"))
    good = {"title": "Joint tender", "startDate": "2026-03-01", "endDate": "2026-03-31", "kpis": ["EC: I: WS: 3C"]}
    made = plan.mutate(CREATE, OFFICIAL, t=twinning, input=good, key="tender")
    assert made["__typename"] == "TwinningActivity", made
    rest = plan.get(f"/api/v1/twinnings/{twinning}/activities/{made['id']}").json()
    assert snake({k: v for k, v in made.items() if k != "__typename"}) == {
        k: v for k, v in slugs(rest).items() if k in snake(made)
    }
    # The key is shared with REST's create: the same body there replays the same activity.
    replay = plan.call(
        "POST",
        f"/api/v1/twinnings/{twinning}/activities",
        OFFICIAL,
        json={"title": "Joint tender", "start_date": "2026-03-01", "end_date": "2026-03-31", "kpis": ["EC: I: WS: 3C"]},
        key="tender",
    )
    assert (replay.status_code, replay.json()["id"]) == (201, made["id"])

    theirs = plan.twinning(plan.world.city["b"], plan.city("pully"))
    before = _state(plan)
    reversed_dates = plan.refused(
        CREATE, OFFICIAL, "VALIDATION_ERROR", t=twinning, input={**good, "startDate": "2026-04-01"}
    )
    assert "start_date (2026-04-01) is after end_date (2026-03-31)" in reversed_dates["message"]
    unknown = plan.refused(CREATE, OFFICIAL, "VALIDATION_ERROR", t=twinning, input={**good, "kpis": ["NOPE"]})
    assert [e["field"] for e in unknown["fieldErrors"]] == ["input.kpis"]
    plan.refused(CREATE, VENDOR, "FORBIDDEN", t=twinning, input=good)
    plan.refused(CREATE, None, "UNAUTHENTICATED", t=twinning, input=good)
    plan.refused(CREATE, OFFICIAL, "FORBIDDEN", t=theirs, input=good)
    stale = plan.refused(
        UPDATE, OFFICIAL, "PRECONDITION_FAILED", t=twinning, id=made["id"], v=7, input={"status": "done"}
    )
    assert stale["currentVersion"] == 1
    moved = plan.refused(
        UPDATE, OFFICIAL, "VALIDATION_ERROR", t=twinning, id=made["id"], v=1, input={"startDate": "2026-05-01"}
    )
    assert [e["field"] for e in moved["fieldErrors"]] == ["input.startDate"]
    plan.refused(OUTCOME, COORDINATOR, "CONFLICT", t=twinning, input={"summary": "Too early."})
    assert _state(plan) == before

    edited = plan.mutate(UPDATE, OFFICIAL, t=twinning, id=made["id"], v=1, input={"status": "in_progress"})
    assert (edited["status"], edited["version"]) == ("in_progress", 2)
    assert plan.get(f"/api/v1/twinnings/{twinning}/activities/{made['id']}").headers["ETag"].endswith('-v2"')
    assert plan.mutate(DELETE, OFFICIAL, t=twinning, id=made["id"]) == {"__typename": "Deleted", "id": made["id"]}
    assert plan.get(f"/api/v1/twinnings/{twinning}/activities/{made['id']}").status_code == 404
    plan.refused(DELETE, OFFICIAL, "NOT_FOUND", t=twinning, id=made["id"])

    plan.activity(twinning, kpis=[KPI])
    plan.move(twinning, "complete")
    conflict = plan.refused(CREATE, OFFICIAL, "CONFLICT", t=twinning, input=good)
    assert conflict["currentStatus"] == "completed"
    plan.refused(OUTCOME, OFFICIAL, "FORBIDDEN", t=twinning, input={"summary": "Ours."})
    wrong = plan.refused(
        OUTCOME,
        COORDINATOR,
        "VALIDATION_ERROR",
        t=twinning,
        input={"summary": "x", "kpiNotes": [{"kpi": "EN-EN-AQ-1C", "note": "n"}]},
    )
    assert [e["field"] for e in wrong["fieldErrors"]] == ["input.kpiNotes.0.kpi"]
    recorded = plan.mutate(
        OUTCOME, COORDINATOR, t=twinning, input={"summary": "Done.", "kpiNotes": [{"kpi": KPI, "note": "Less loss."}]}
    )
    rest_outcome = slugs(plan.get(f"/api/v1/twinnings/{twinning}/outcome").json())
    assert snake({k: v for k, v in recorded.items() if k != "__typename"}) == {
        k: v for k, v in rest_outcome.items() if k not in ("created_at", "updated_at")
    }
    assert [e["action"] for e in plan.audit("twinning", twinning)][-1] == "twinning.outcome"
