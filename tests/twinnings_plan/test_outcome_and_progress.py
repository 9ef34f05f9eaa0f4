"""The outcome of a completed twinning (the programme records it) and the progress read: for each KPI the plan
aims at, both cities' values before and after, computed from KPI values written through the API, shown only
where the city's data may be read (docs/architecture.md, "Twinning plans")."""

from __future__ import annotations

from typing import Any

from tests.api.writes_catalogue.conftest import assert_problem
from tests.twinnings_plan.conftest import ADMIN, COORDINATOR, KPI, OFFICIAL, VENDOR, Plan, this_year

METERS = "EC-ICT-WS-1C"  # Smart Water Meters: higher is better


def _outcome(plan: Plan, twinning: int, role: Any, body: dict[str, Any]) -> Any:
    return plan.call("PUT", f"/api/v1/twinnings/{twinning}/outcome", role, json=body)


def test_the_programme_records_the_outcome_of_a_completed_twinning(plan: Plan) -> None:
    twinning = plan.twinning(plan.world.city["a"], plan.city("bizerte"))
    plan.activity(twinning, kpis=[KPI, METERS])
    body = {"summary": "Losses fell in both networks.", "kpi_notes": [{"kpi": "EC: I: WS: 3C", "note": "Night flow."}]}
    assert_problem(_outcome(plan, twinning, COORDINATOR, body), 409, "active", "completed")
    assert_problem(plan.get(f"/api/v1/twinnings/{twinning}/outcome"), 404, "no outcome yet")
    plan.move(twinning, "complete", OFFICIAL)

    # The coordinator is the programme: not even a city of the pair records it.
    assert_problem(_outcome(plan, twinning, OFFICIAL, body), 403, "programme")
    assert_problem(_outcome(plan, twinning, VENDOR, body), 403)
    assert_problem(_outcome(plan, twinning, None, body), 401)
    assert plan.scalar("SELECT count(*) FROM twinning_outcome") == 0

    not_aimed = {"summary": "x", "kpi_notes": [{"kpi": "EN-EN-AQ-1C", "note": "Air is not in the plan."}]}
    problem = assert_problem(_outcome(plan, twinning, COORDINATOR, not_aimed), 422, "kpi_notes")
    assert problem["errors"] == [
        {
            "field": "body.kpi_notes.0.kpi",
            "message": "no activity of this twinning aims at 'EN-EN-AQ-1C'",
            "type": "not_aimed",
        }
    ]
    twice = {"summary": "x", "kpi_notes": [{"kpi": KPI, "note": "a"}, {"kpi": "EC: I: WS: 3C", "note": "b"}]}
    assert [e["field"] for e in assert_problem(_outcome(plan, twinning, COORDINATOR, twice), 422)["errors"]] == [
        "body.kpi_notes.1.kpi"
    ]
    unknown = {"summary": "x", "kpi_notes": [{"kpi": "NOPE", "note": "a"}]}
    assert_problem(_outcome(plan, twinning, COORDINATOR, unknown), 422, "unknown KPI 'NOPE'")
    assert_problem(_outcome(plan, twinning, COORDINATOR, {"summary": ""}), 422, "summary")

    created = _outcome(plan, twinning, COORDINATOR, body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert (out["summary"], out["version"]) == ("Losses fell in both networks.", 1)
    assert out["kpi_notes"] == [
        {"kpi": {"slug": KPI, "code": "EC: I: WS: 3C", "name": "Water Supply Loss"}, "note": "Night flow."}
    ]
    assert plan.get(f"/api/v1/twinnings/{twinning}/outcome").json() == out  # public, like the twinning
    same = _outcome(plan, twinning, ADMIN, body)
    assert (same.status_code, same.json()["version"]) == (200, 1)  # nothing changed, nothing recorded
    replaced = _outcome(plan, twinning, ADMIN, {"summary": "Losses fell.", "kpi_notes": []})
    assert (replaced.status_code, replaced.json()["version"], replaced.json()["kpi_notes"]) == (200, 2, [])

    events = [e for e in plan.audit("twinning", twinning) if e["action"] == "twinning.outcome"]
    assert [e["changes"]["created"] for e in events] == [True, False]
    assert events[1]["changes"]["summary"] == {"from": "Losses fell in both networks.", "to": "Losses fell."}
    raised = plan.scalar("SELECT count(*) FROM notify_event WHERE type = 'twinning.outcome_recorded'")
    assert raised == 2


def _side(progress: dict[str, Any], slug: str, side: str) -> dict[str, Any]:
    (kpi,) = [k for k in progress["kpis"] if k["kpi"]["slug"] == slug]
    (point,) = kpi["data_points"]
    result: dict[str, Any] = point[side]
    return result


def test_before_and_after_are_the_latest_values_either_side_of_the_twinning(plan: Plan) -> None:
    year = this_year()
    karmoy, stavanger = plan.world.city["a"], plan.world.city["b"]
    # Before the twinning: Karmoy's official and an admin (for Stavanger) write their series.
    plan.values(karmoy, OFFICIAL, (year - 3, 41.0), (year - 1, 35.0))
    plan.values(stavanger, ADMIN, (year - 2, 20.0))
    plan.values(stavanger, ADMIN, (year - 2, 21.0))  # a correction: the upsert keeps 21
    plan.values(karmoy, OFFICIAL, (year - 2, 60.0), kpi=METERS)
    twinning = plan.twinning(karmoy, stavanger)
    plan.activity(twinning, kpis=[KPI])
    plan.activity(twinning, title="Meter roll-out", kpis=[METERS, KPI])
    path = f"/api/v1/twinnings/{twinning}/progress"

    started = plan.get(path).json()
    assert started["completed"] is False
    assert [k["kpi"]["slug"] for k in started["kpis"]] == [KPI, METERS]  # each aimed KPI once, in code order
    (loss,) = [k for k in started["kpis"] if k["kpi"]["slug"] == KPI]
    assert (loss["unit"], loss["direction"], loss["outcome_note"]) == ("Percentage", "lower_is_better", None)
    assert loss["data_points"][0]["key"] == ""
    assert _side(started, KPI, "city_a") == {
        "city_id": karmoy,
        "visible": True,
        "before": {"year": year - 1, "value": 35.0},
        "after": None,
        "change": None,
        "improved": None,
    }
    assert _side(started, KPI, "city_b")["before"] == {"year": year - 2, "value": 21.0}
    assert _side(started, METERS, "city_b")["before"] is None  # Stavanger reports no meters

    # This year's values, the twinning then completed: after is the latest value of a year ending since.
    plan.values(karmoy, OFFICIAL, (year, 30.0))
    plan.values(karmoy, OFFICIAL, (year, 80.0), kpi=METERS)
    plan.values(stavanger, ADMIN, (year, 22.5))
    plan.move(twinning, "complete")
    outcome = {"summary": "Done.", "kpi_notes": [{"kpi": METERS, "note": "Meters everywhere."}]}
    assert _outcome(plan, twinning, COORDINATOR, outcome).status_code == 201

    done = plan.get(path).json()
    assert done["completed"] is True
    assert done["end_at"].startswith(str(year))
    karmoy_loss = _side(done, KPI, "city_a")
    assert (karmoy_loss["before"], karmoy_loss["after"]) == (
        {"year": year - 1, "value": 35.0},
        {"year": year, "value": 30.0},
    )
    assert (karmoy_loss["change"], karmoy_loss["improved"]) == (-5.0, True)  # lower is better
    stavanger_loss = _side(done, KPI, "city_b")
    assert (stavanger_loss["change"], stavanger_loss["improved"]) == (1.5, False)
    meters = _side(done, METERS, "city_a")
    assert (meters["change"], meters["improved"]) == (20.0, True)  # higher is better
    (meter_kpi,) = [k for k in done["kpis"] if k["kpi"]["slug"] == METERS]
    assert meter_kpi["outcome_note"] == "Meters everywhere."
    # A correction of an earlier year, sent after the completion, is read as the series now says: a new before.
    plan.values(karmoy, OFFICIAL, (year - 1, 34.0))
    assert _side(plan.get(path).json(), KPI, "city_a")["before"] == {"year": year - 1, "value": 34.0}


def test_a_city_s_values_show_only_to_who_may_read_its_data(plan: Plan) -> None:
    year = this_year()
    karmoy, dubai = plan.world.city["a"], plan.city("dubai")  # Dubai keeps its data private
    plan.values(karmoy, OFFICIAL, (year - 1, 35.0))
    plan.values(dubai, ADMIN, (year - 1, 12.0))
    twinning = plan.twinning(karmoy, dubai)
    plan.activity(twinning, kpis=[KPI])
    path = f"/api/v1/twinnings/{twinning}/progress"
    hidden = {"city_id": dubai, "visible": False, "before": None, "after": None, "change": None, "improved": None}
    for role in (None, OFFICIAL, VENDOR):
        progress = plan.get(path, role)
        assert progress.status_code == 200, progress.text
        assert _side(progress.json(), KPI, "city_b") == hidden
        assert _side(progress.json(), KPI, "city_a")["before"] == {"year": year - 1, "value": 35.0}
    for role in (ADMIN, COORDINATOR):  # the programme reads every city's private data (private:read)
        assert _side(plan.get(path, role).json(), KPI, "city_b")["before"] == {"year": year - 1, "value": 12.0}
    assert_problem(plan.get("/api/v1/twinnings/999999/progress"), 404, "No twinning")
