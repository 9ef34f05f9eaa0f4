"""A twinning's plan (docs/architecture.md, "Twinning plans"): its activities, its outcome, and the progress
of the KPIs the activities aim at, both cities side by side.

Who may do what (`app.auth.permissions`, each with the twinnings:write scope):
- create, edit, delete activities: those who run the twinning (`can_plan_twinning`: an official of either
  city, or the programme), while the twinning is active (409 before it starts and after it ends);
- record the outcome (`PUT .../outcome`, create or replace): the coordinator, i.e. the programme
  (`can_record_twinning_outcome`: programme coordinators and admins), once the twinning is completed (409
  before).
Reading follows the twinning's rule (twinnings are public): activities and outcome are for everyone; in the
progress, each city's values only for who may read them (`app.cities.kpi_values.can_read_values`).

Before and after: a KPI value is yearly, so it is dated at the end of its year (31 December). *Before* is
the latest value of a year ending at or before the baseline (the twinning's start, else its acceptance, else
its proposal); *after* is the latest value of a year ending at or after the end (the completion, else now).
A twinning started in 2026 compares 2025 (or earlier) with 2026 (or later).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.audit.context import current_request_id
from app.auth import permissions
from app.auth.principal import Principal
from app.cities.kpi_values import can_read_values
from app.cities.models import City, KpiObservation
from app.core.concurrency import ExpectedVersion, claim_version
from app.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.kpis.models import Direction, Kpi, KpiDataPoint
from app.kpis.schemas import KpiRefOut
from app.kpis.service import kpi_ids_for, kpi_refs, slugify_code
from app.twinnings.models import (
    Twinning,
    TwinningActivity,
    TwinningActivityKpi,
    TwinningOutcome,
    TwinningStatus,
)
from app.twinnings.schemas import (
    ActivityBaseOut,
    ActivityCreateIn,
    ActivityOut,
    ActivityUpdateIn,
    CityProgressOut,
    DataPointProgressOut,
    KpiProgressOut,
    OutcomeIn,
    OutcomeOut,
    ProgressOut,
    ValueAtOut,
)
from app.twinnings.service import get_twinning

ACTIVITY_KIND = "twinning_activity"  # its ETag's kind (docs/design.md §6)


# ------------------------------------------------------------------------------------------------ reading


def list_activities(session: Session, twinning_id: int, page: PageRequest) -> PageResult[TwinningActivity]:
    """A twinning's activities by start date (then by id); 404 for no such twinning."""
    get_twinning(session, twinning_id)
    statement = (
        select(TwinningActivity)
        .where(col(TwinningActivity.twinning_id) == twinning_id)
        .options(selectinload(TwinningActivity.kpis))  # type: ignore[arg-type]
    )
    keys = [SortKey(TwinningActivity.start_date), SortKey(TwinningActivity.id)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_activity(session: Session, twinning_id: int, activity_id: int) -> TwinningActivity:
    """The activity, when it is one of this twinning's; 404 otherwise (and for no such twinning)."""
    get_twinning(session, twinning_id)
    activity = session.exec(
        select(TwinningActivity)
        .where(col(TwinningActivity.id) == activity_id, col(TwinningActivity.twinning_id) == twinning_id)
        .options(selectinload(TwinningActivity.kpis))  # type: ignore[arg-type]
    ).first()
    if activity is None:
        raise NotFound(
            f"Twinning {twinning_id} has no activity with id {activity_id}. "
            f"GET /api/v1/twinnings/{twinning_id}/activities lists them."
        )
    return activity


def activities_out(session: Session, activities: Sequence[TwinningActivity]) -> list[ActivityOut]:
    """Activities with their KPIs (one statement for all of them)."""
    refs = kpi_refs(session, {k.kpi_id for a in activities for k in a.kpis})
    return [
        ActivityOut(
            **ActivityBaseOut.from_model(a).model_dump(),
            kpis=sorted((refs[k.kpi_id] for k in a.kpis), key=lambda r: r.code),
        )
        for a in activities
    ]


def _aimed_kpi_ids(session: Session, twinning_id: int) -> set[int]:
    """Every KPI some activity of the twinning aims at."""
    of_twinning = select(TwinningActivity.id).where(col(TwinningActivity.twinning_id) == twinning_id)
    rows = session.exec(
        select(TwinningActivityKpi.kpi_id).where(col(TwinningActivityKpi.activity_id).in_(of_twinning)).distinct()
    ).all()
    return {int(r) for r in rows}


def get_outcome(session: Session, twinning_id: int) -> OutcomeOut | None:
    """The twinning's outcome, or None while none is recorded; 404 for no such twinning."""
    get_twinning(session, twinning_id)
    outcome = session.get(TwinningOutcome, twinning_id)
    if outcome is None:
        return None
    return OutcomeOut.from_model(outcome, kpi_refs(session, {int(n["kpi_id"]) for n in outcome.kpi_notes}))


def kpi_ids_by_slug(session: Session, slugs: Sequence[str]) -> dict[str, int]:
    """KPI ids by slug (for a face that shows the KPIs of an answer through its own loader)."""
    rows = session.execute(sa.select(col(Kpi.slug), col(Kpi.id)).where(col(Kpi.slug).in_(list(slugs)))).all()
    return {str(slug): int(kpi_id) for slug, kpi_id in rows}


def _year_end(year: int) -> date:
    return date(year, 12, 31)


def _pick(years: dict[int, float], before: date, after: date) -> tuple[ValueAtOut | None, ValueAtOut | None]:
    """The latest value of a year ending at or before `before`, and of one ending at or after `after`."""
    earlier = [y for y in years if _year_end(y) <= before]
    later = [y for y in years if _year_end(y) >= after]
    first = ValueAtOut(year=max(earlier), value=years[max(earlier)]) if earlier else None
    last = ValueAtOut(year=max(later), value=years[max(later)]) if later else None
    return first, last


def _improved(direction: Direction, change: float | None) -> bool | None:
    if change is None or change == 0:
        return None
    if direction is Direction.higher_is_better:
        return change > 0
    if direction is Direction.lower_is_better:
        return change < 0
    return None  # target_is_best needs the benchmark, undetermined has no better way


def progress(session: Session, principal: Principal, twinning_id: int) -> ProgressOut:
    """Each KPI the plan aims at, with both cities' values before and after (module docstring)."""
    twinning = get_twinning(session, twinning_id)
    now = datetime.now(UTC)
    baseline = twinning.started_at or twinning.decided_at or twinning.proposed_at
    completed = twinning.status is TwinningStatus.completed
    end = (twinning.ended_at or now) if completed else now
    pair = (twinning.city_a_id, twinning.city_b_id)
    cities = {c.id: c for c in session.exec(select(City).where(col(City.id).in_(pair))).all()}
    visible = {city_id: can_read_values(principal, cities[city_id]) for city_id in pair}
    kpi_ids = _aimed_kpi_ids(session, twinning_id)
    kpis = session.exec(
        select(Kpi).where(col(Kpi.id).in_(kpi_ids)).options(selectinload(Kpi.data_points))  # type: ignore[arg-type]
    ).all()
    readable = [city_id for city_id in pair if visible[city_id]]
    values: dict[tuple[int, int], dict[int, float]] = {}
    if readable and kpi_ids:
        data_points = select(KpiDataPoint.id).where(col(KpiDataPoint.kpi_id).in_(kpi_ids))
        rows = session.execute(
            sa.select(
                col(KpiObservation.city_id),
                col(KpiObservation.data_point_id),
                col(KpiObservation.year),
                col(KpiObservation.value),
            ).where(col(KpiObservation.city_id).in_(readable), col(KpiObservation.data_point_id).in_(data_points))
        ).all()
        for city_id, data_point_id, year, value in rows:
            values.setdefault((int(city_id), int(data_point_id)), {})[int(year)] = float(value)
    outcome = session.get(TwinningOutcome, twinning_id)
    notes = {int(n["kpi_id"]): str(n["note"]) for n in (outcome.kpi_notes if outcome else [])}

    def side(city_id: int, point: KpiDataPoint) -> CityProgressOut:
        if not visible[city_id]:
            return CityProgressOut(city_id=city_id, visible=False, before=None, after=None, change=None, improved=None)
        first, last = _pick(values.get((city_id, point.id or 0), {}), baseline.date(), end.date())
        change = last.value - first.value if first and last else None
        return CityProgressOut(
            city_id=city_id,
            visible=True,
            before=first,
            after=last,
            change=change,
            improved=_improved(point.direction, change),
        )

    out = [
        KpiProgressOut(
            kpi=KpiRefOut.from_model(kpi),
            unit=kpi.unit,
            direction=kpi.direction,
            outcome_note=notes.get(kpi.id or 0),
            data_points=[
                DataPointProgressOut(
                    key=point.key,
                    unit=point.unit,
                    direction=point.direction,
                    city_a=side(twinning.city_a_id, point),
                    city_b=side(twinning.city_b_id, point),
                )
                for point in sorted(kpi.data_points, key=lambda p: (p.position, p.key))
            ],
        )
        for kpi in sorted(kpis, key=lambda k: k.code)
    ]
    return ProgressOut(twinning_id=twinning_id, baseline_at=baseline, end_at=end, completed=completed, kpis=out)


# ------------------------------------------------------------------------------------------------ writes


def _locked_status(session: Session, twinning_id: int) -> TwinningStatus:
    """The twinning's status, its row locked (PostgreSQL) until the commit: a plan write and a status move
    (which updates the row) queue up, so that no activity lands on a twinning completed meanwhile and two
    first outcomes do not both insert. SQLite's writes are serial already (BEGIN IMMEDIATE)."""
    status = session.execute(
        sa.select(col(Twinning.status)).where(col(Twinning.id) == twinning_id).with_for_update()
    ).scalar_one()
    return TwinningStatus(status)


def _plannable(session: Session, principal: Principal, twinning_id: int, doing: str) -> Twinning:
    """The twinning, when the caller may change its plan now: 404, 403 (not theirs), 409 (not active)."""
    twinning = get_twinning(session, twinning_id)
    permissions.require(
        permissions.can_plan_twinning(principal, (twinning.city_a_id, twinning.city_b_id)),
        f"Only an official of one of the two cities (with twinnings:write), or the twin-city programme, may "
        f"{doing} this twinning's activities.",
    )
    status = _locked_status(session, twinning_id)
    if status is not TwinningStatus.active:
        when = (
            "it has not started yet (activate it first)"
            if status in (TwinningStatus.proposed, TwinningStatus.accepted)
            else "it is over"
        )
        raise Conflict(
            f"This twinning is {status.value}: its activities can be changed only while it is active, and {when}.",
            type_="twinning-not-active",
            title="Twinning not active",
            extra={"current_status": status.value},
        )
    return twinning


def _record(activity: TwinningActivity) -> dict[str, Any]:
    return {
        "activity_id": activity.id,
        "title": activity.title,
        "description": activity.description,
        "start_date": activity.start_date.isoformat(),
        "end_date": activity.end_date.isoformat(),
        "milestone": activity.milestone,
        "status": activity.status.value,
        "kpi_ids": sorted(k.kpi_id for k in activity.kpis),
    }


def _log(session: Session, principal: Principal, action: str, twinning_id: int, changes: dict[str, Any]) -> None:
    """Plan writes are events of the twinning (its trail tells the whole story)."""
    audit.record(session, principal, action, "twinning", twinning_id, changes, request_id=current_request_id())


def create_activity(
    session: Session, principal: Principal, twinning_id: int, data: ActivityCreateIn
) -> TwinningActivity:
    _plannable(session, principal, twinning_id, "add to")
    kpi_ids = kpi_ids_for(session, data.kpis, "kpis")
    activity = TwinningActivity(
        twinning_id=twinning_id,
        title=data.title,
        description=data.description,
        start_date=data.start_date,
        end_date=data.end_date,
        milestone=data.milestone,
        status=data.status,
        created_by_user_id=principal.user_id,
        kpis=[],
    )
    session.add(activity)
    session.flush()
    activity.kpis.extend(TwinningActivityKpi(activity_id=activity.id or 0, kpi_id=k) for k in kpi_ids)
    session.flush()
    _log(session, principal, "twinning.activity.create", twinning_id, _record(activity))
    return activity


def update_activity(
    session: Session,
    principal: Principal,
    twinning_id: int,
    activity_id: int,
    if_match: ExpectedVersion,
    data: ActivityUpdateIn,
) -> TwinningActivity:
    """Change the fields sent: 428/412 without the current ETag, 422 for dates out of order or unknown KPIs."""
    _plannable(session, principal, twinning_id, "edit")
    activity = get_activity(session, twinning_id, activity_id)
    expected = if_match()
    if expected != activity.version:
        raise PreconditionFailed(
            f"This activity changed since you read it (your version {expected}, now {activity.version}); "
            "GET it again and reapply your change.",
            extra={"current_etag": f'"{ACTIVITY_KIND}-{activity_id}-v{activity.version}"'},
        )
    given = data.model_dump(exclude_unset=True)
    start, end = given.get("start_date", activity.start_date), given.get("end_date", activity.end_date)
    if start > end:
        fields = [f for f in ("start_date", "end_date") if f in given]
        raise InvalidInput(
            f"start_date ({start.isoformat()}) would be after end_date ({end.isoformat()}); send both to move the "
            "activity.",
            errors=[
                {"field": f"body.{f}", "message": "start_date must be on or before end_date", "type": "value_error"}
                for f in fields
            ],
        )
    before = _record(activity)
    if "kpis" in given:
        kpi_ids = kpi_ids_for(session, data.kpis, "kpis")
        current = {k.kpi_id: k for k in activity.kpis}
        activity.kpis[:] = [current.get(k) or TwinningActivityKpi(activity_id=activity_id, kpi_id=k) for k in kpi_ids]
    for name in ("title", "description", "start_date", "end_date", "milestone", "status"):
        if name in given:
            setattr(activity, name, getattr(data, name))
    change = audit.diff(before, _record(activity))
    if not change:
        return activity
    activity.version = claim_version(session, TwinningActivity, activity_id, expected)
    session.add(activity)
    session.flush()
    _log(session, principal, "twinning.activity.update", twinning_id, {"activity_id": activity_id, **change})
    return activity


def delete_activity(session: Session, principal: Principal, twinning_id: int, activity_id: int) -> None:
    _plannable(session, principal, twinning_id, "delete")
    activity = get_activity(session, twinning_id, activity_id)
    record = _record(activity)
    session.delete(activity)
    session.flush()
    _log(session, principal, "twinning.activity.delete", twinning_id, record)


def _kpi_notes(session: Session, twinning_id: int, data: OutcomeIn) -> list[dict[str, Any]]:
    """The notes as stored ({kpi_id, note}); 422 for a KPI the plan does not aim at, or one named twice."""
    aimed = _aimed_kpi_ids(session, twinning_id)
    slugs = [slugify_code(n.kpi) for n in data.kpi_notes]
    found = {
        str(slug): int(kpi_id)
        for slug, kpi_id in session.execute(sa.select(col(Kpi.slug), col(Kpi.id)).where(col(Kpi.slug).in_(slugs)))
    }
    errors = []
    for index, (note, slug) in enumerate(zip(data.kpi_notes, slugs, strict=True)):
        field = f"body.kpi_notes.{index}.kpi"
        if slug not in found:
            errors.append({"field": field, "message": f"unknown KPI {note.kpi!r}", "type": "unknown"})
        elif found[slug] not in aimed:
            errors.append(
                {"field": field, "message": f"no activity of this twinning aims at {note.kpi!r}", "type": "not_aimed"}
            )
        elif slugs.index(slug) != index:
            errors.append({"field": field, "message": f"{note.kpi!r} has a note already", "type": "duplicate"})
    if errors:
        raise InvalidInput(
            "Invalid kpi_notes: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors) + ". A note is on a "
            f"KPI the plan's activities aim at (GET /api/v1/twinnings/{twinning_id}/progress lists them).",
            errors=errors,
        )
    return [{"kpi_id": found[slug], "note": n.note} for n, slug in zip(data.kpi_notes, slugs, strict=True)]


def put_outcome(session: Session, principal: Principal, twinning_id: int, data: OutcomeIn) -> tuple[OutcomeOut, bool]:
    """Record (True: created) or replace the outcome of a completed twinning: the programme's; 409 before."""
    twinning = get_twinning(session, twinning_id)
    permissions.require(
        permissions.can_record_twinning_outcome(principal),
        "Only the twin-city programme (coordinators, admins), which coordinates twinnings, records their outcome.",
    )
    status = _locked_status(session, twinning.id or 0)
    if status is not TwinningStatus.completed:
        raise Conflict(
            f"This twinning is {status.value}: its outcome is recorded once it is completed "
            "(POST /api/v1/twinnings/{id}/complete).",
            type_="twinning-not-completed",
            title="Twinning not completed",
            extra={"current_status": status.value},
        )
    notes = _kpi_notes(session, twinning_id, data)
    outcome = session.get(TwinningOutcome, twinning_id)
    created = outcome is None
    before = {} if outcome is None else {"summary": outcome.summary, "kpi_notes": outcome.kpi_notes}
    if outcome is None:
        outcome = TwinningOutcome(twinning_id=twinning_id, summary=data.summary, kpi_notes=notes)
    elif before != {"summary": data.summary, "kpi_notes": notes}:
        outcome.summary, outcome.kpi_notes, outcome.version = data.summary, notes, outcome.version + 1
    else:
        return OutcomeOut.from_model(outcome, kpi_refs(session, {int(n["kpi_id"]) for n in notes})), False
    outcome.recorded_by_user_id = principal.user_id
    session.add(outcome)
    session.flush()
    _log(
        session,
        principal,
        "twinning.outcome",
        twinning_id,
        {"created": created, **audit.diff(before, {"summary": data.summary, "kpi_notes": notes})},
    )
    session.refresh(outcome)
    return OutcomeOut.from_model(outcome, kpi_refs(session, {int(n["kpi_id"]) for n in notes})), created
