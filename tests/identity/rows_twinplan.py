"""Permission-matrix rows for twinning plans (docs/architecture.md, "Twinning plans").

"own" is a twinning of city a (Karmoy) with a partner (Bizerte), "other" one of city b (Stavanger) with the same
partner: city a's official plans its own twinning's activities, never another pair's; the programme
(coordinators, admins) plans any, and alone records a completed twinning's outcome. Builders create the
twinning in the status the write needs (active for activities, completed for the outcome) directly in the
cell's database, so that a refusal can only come from the permission check.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from app.cities.models import City
from app.core.concurrency import etag
from app.identity.models import Role
from app.twinnings.models import Twinning, TwinningActivity, TwinningStatus
from tests.identity.matrix import Builder, Call, Row, Scenario, Which, ab

PROGRAMME = frozenset({Role.programme_coordinator, Role.admin})
OFFICIAL_OR_PROGRAMME = frozenset({Role.city_official, Role.programme_coordinator, Role.admin})
ACTIVITY = {"title": "Matrix study visit", "start_date": "2026-03-01", "end_date": "2026-03-03"}


def _twinning(scenario: Scenario, which: Which, status: TwinningStatus) -> int:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with scenario.session() as session:
        partner = session.exec(select(City).where(City.slug == "bizerte")).one().id or 0
        twinning = Twinning(
            city_a_id=scenario.world.city[ab(which)],
            city_b_id=partner,
            status=status,
            proposed_by_city_id=partner,
            proposed_at=when,
            decided_at=when,
            started_at=when,
            ended_at=when if status is TwinningStatus.completed else None,
        )
        session.add(twinning)
        session.flush()
        return twinning.id or 0


def _activity(scenario: Scenario, which: Which) -> tuple[int, int]:
    twinning_id = _twinning(scenario, which, TwinningStatus.active)
    with scenario.session() as session:
        activity = TwinningActivity(
            twinning_id=twinning_id, title="Matrix activity", start_date=date(2026, 2, 1), end_date=date(2026, 2, 2)
        )
        session.add(activity)
        session.flush()
        return twinning_id, activity.id or 0


def _create(scenario: Scenario, which: Which) -> Call:
    return Call(f"/api/v1/twinnings/{_twinning(scenario, which, TwinningStatus.active)}/activities", ACTIVITY)


def _patch(scenario: Scenario, which: Which) -> Call:
    twinning_id, activity_id = _activity(scenario, which)
    return Call(
        f"/api/v1/twinnings/{twinning_id}/activities/{activity_id}",
        {"status": "in_progress"},
        {"If-Match": etag("twinning_activity", activity_id, 1)},
    )


def _delete(scenario: Scenario, which: Which) -> Call:
    twinning_id, activity_id = _activity(scenario, which)
    return Call(f"/api/v1/twinnings/{twinning_id}/activities/{activity_id}")


def _outcome(scenario: Scenario, which: Which) -> Call:
    twinning_id = _twinning(scenario, which, TwinningStatus.completed)
    return Call(f"/api/v1/twinnings/{twinning_id}/outcome", {"summary": "Recorded by the matrix."})


def _row(method: str, path: str, build: Builder, own: frozenset[Role], other: frozenset[Role]) -> Row:
    return Row(method, path, build, own=own, other=other)


TWINPLAN_ROWS: list[Row] = [
    _row("POST", "/api/v1/twinnings/{twinning_id}/activities", _create, OFFICIAL_OR_PROGRAMME, PROGRAMME),
    _row("PATCH", "/api/v1/twinnings/{twinning_id}/activities/{activity_id}", _patch, OFFICIAL_OR_PROGRAMME, PROGRAMME),
    _row(
        "DELETE", "/api/v1/twinnings/{twinning_id}/activities/{activity_id}", _delete, OFFICIAL_OR_PROGRAMME, PROGRAMME
    ),
    # The outcome is the coordinator's, i.e. the programme's: not even the city's own official records it.
    _row("PUT", "/api/v1/twinnings/{twinning_id}/outcome", _outcome, PROGRAMME, PROGRAMME),
]
