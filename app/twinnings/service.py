"""Twinnings (the twin-city programme's pairings; public, like the programme itself): reading them,
proposing one, and moving it through its lifecycle (`app.twinnings.lifecycle`).

Who may do what (`app.auth.permissions`, each with the twinnings:write scope):
- propose: an official of one of the two cities (the twinning records that city as the proposer), or the
  programme (coordinators, admins; no proposing city);
- accept, decline: an official of the city that did NOT propose (either city when the programme proposed),
  or the programme;
- activate, complete: an official of either city (they run the twinning together), or the programme;
- lapse (a proposed or accepted twinning that went nowhere): the programme only.
A pair of cities has at most one proposed, accepted or active twinning (409 for a second one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, or_, select

from app.audit import service as audit
from app.audit.context import current_request_id
from app.auth import permissions
from app.auth.principal import Principal
from app.cities.models import City
from app.cities.service import city_refs
from app.core.concurrency import claim_version
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.kpis.models import Kpi
from app.kpis.service import kpi_ids_for, kpi_refs
from app.solutions import service as solutions
from app.twinnings.lifecycle import OPEN_STATUSES, TwinningAction, allowed_actions, next_status
from app.twinnings.models import Twinning, TwinningKpi, TwinningStatus
from app.twinnings.schemas import TwinningBaseOut, TwinningCreateIn, TwinningOut
from app.twinnings.schemas import TwinningFilters as TwinningFilters

# Reads the version the caller last saw (REST: If-Match); called after the permission check.
Precondition = Callable[[], int]


def list_twinnings(session: Session, filters: TwinningFilters, page: PageRequest) -> PageResult[Twinning]:
    statement = select(Twinning).options(selectinload(Twinning.focus_kpis))  # type: ignore[arg-type]
    if filters.city is not None:
        statement = statement.where(
            or_(col(Twinning.city_a_id) == filters.city, col(Twinning.city_b_id) == filters.city)
        )
    if filters.status:
        statement = statement.where(col(Twinning.status) == filters.status)
    if filters.kpi:
        on_kpi = select(TwinningKpi.twinning_id).where(col(TwinningKpi.kpi_id) == solutions.kpi_id_for(filters.kpi))
        statement = statement.where(col(Twinning.id).in_(on_kpi))
    # Newest first. Ids grow with insertion; a datetime would not survive the cursor (see app.core.pagination).
    keys = [SortKey(Twinning.id, descending=True)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_twinning(session: Session, twinning_id: int) -> Twinning:
    statement = select(Twinning).where(Twinning.id == twinning_id).options(selectinload(Twinning.focus_kpis))  # type: ignore[arg-type]
    twinning = session.exec(statement).first()
    if twinning is None:
        raise NotFound(f"No twinning with id {twinning_id}. GET /api/v1/twinnings lists them.")
    return twinning


def to_out(session: Session, twinnings: Sequence[Twinning]) -> list[TwinningOut]:
    """Twinnings with their cities and focus KPIs (one statement each for all of them)."""
    cities = city_refs(session, {c for t in twinnings for c in (t.city_a_id, t.city_b_id)})
    kpis = kpi_refs(session, {k.kpi_id for t in twinnings for k in t.focus_kpis})
    return [
        TwinningOut(
            **TwinningBaseOut.from_model(t).model_dump(),
            city_a=cities[t.city_a_id],
            city_b=cities[t.city_b_id],
            focus_kpis=sorted((kpis[k.kpi_id] for k in t.focus_kpis), key=lambda r: r.code),
        )
        for t in twinnings
    ]


# ------------------------------------------------------------------------------------------------ writes


def canonical_categories(session: Session, names: Sequence[str], field: str) -> list[str]:
    """KPI categories as the framework spells them (matched without regard to case); 422 for unknown ones."""
    known = {c.lower(): c for c in session.exec(select(Kpi.category).distinct()).all()}
    unknown = [n for n in names if n.strip().lower() not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown KPI categor(y/ies) in {field}: {', '.join(repr(u) for u in unknown)}. The categories are: "
            f"{', '.join(sorted(known.values()))}.",
            errors=[
                {"field": f"body.{field}", "message": f"unknown category {u!r}", "type": "unknown"} for u in unknown
            ],
        )
    return list(dict.fromkeys(known[n.strip().lower()] for n in names))


def _record(twinning: Twinning) -> dict[str, Any]:
    return {
        "city_a_id": twinning.city_a_id,
        "city_b_id": twinning.city_b_id,
        "status": twinning.status.value,
        "proposed_by_city_id": twinning.proposed_by_city_id,
        "focus_kpi_ids": sorted(k.kpi_id for k in twinning.focus_kpis),
        "focus_categories": twinning.focus_categories,
        "rationale": twinning.rationale,
    }


def _lock_pair(session: Session, city_ids: tuple[int, int]) -> dict[int, str]:
    """The two cities' names, their rows locked (PostgreSQL) so that two proposals for the same pair queue
    up instead of both passing the duplicate check. 422 for an unknown city."""
    rows = session.execute(
        sa.select(col(City.id), col(City.name))
        .where(col(City.id).in_(city_ids))
        .order_by(col(City.id))
        .with_for_update()
    ).all()
    names = {int(city_id): str(name) for city_id, name in rows}
    missing = [
        (field, city_id)
        for field, city_id in zip(("city_a_id", "city_b_id"), city_ids, strict=True)
        if city_id not in names
    ]
    if missing:
        raise InvalidInput(
            "; ".join(f"{field}: no city with id {city_id}" for field, city_id in missing) + ".",
            errors=[{"field": f"body.{f}", "message": f"no city with id {c}", "type": "unknown"} for f, c in missing],
        )
    return names


def propose(session: Session, principal: Principal, data: TwinningCreateIn) -> Twinning:
    pair = (data.city_a_id, data.city_b_id)
    names = _lock_pair(session, pair)
    if permissions.can_coordinate_twinnings(principal):
        proposer: int | None = None
    else:
        own = [c for c in pair if permissions.can_act_for_city_in_twinning(principal, c)]
        if not own:
            raise Forbidden(
                f"Only an official of {names[pair[0]]} or {names[pair[1]]} (with twinnings:write), or the twin-city "
                "programme, may propose this twinning."
            )
        proposer = own[0]
    existing = session.exec(
        select(Twinning).where(
            or_(
                sa.and_(col(Twinning.city_a_id) == pair[0], col(Twinning.city_b_id) == pair[1]),
                sa.and_(col(Twinning.city_a_id) == pair[1], col(Twinning.city_b_id) == pair[0]),
            ),
            col(Twinning.status).in_(OPEN_STATUSES),
        )
    ).first()
    if existing is not None:
        raise Conflict(
            f"{names[pair[0]]} and {names[pair[1]]} already have a {existing.status.value} twinning "
            f"(id {existing.id}); a pair has one open twinning at a time.",
            extra={"existing_id": existing.id, "existing_status": existing.status.value},
        )
    kpi_ids = kpi_ids_for(session, data.focus_kpis, "focus_kpis")
    twinning = Twinning(
        city_a_id=pair[0],
        city_b_id=pair[1],
        focus_categories=canonical_categories(session, data.focus_categories, "focus_categories"),
        rationale=data.rationale,
        status=TwinningStatus.proposed,
        proposed_by_user_id=principal.user_id,
        proposed_by_city_id=proposer,
        proposed_at=datetime.now(UTC),
        focus_kpis=[],
    )
    session.add(twinning)
    session.flush()
    twinning.focus_kpis.extend(TwinningKpi(twinning_id=twinning.id or 0, kpi_id=kpi_id) for kpi_id in kpi_ids)
    session.flush()
    audit.record(
        session,
        principal,
        "twinning.propose",
        "twinning",
        twinning.id or 0,
        _record(twinning),
        request_id=current_request_id(),
    )
    return twinning


def _may(principal: Principal, twinning: Twinning, action: TwinningAction) -> tuple[bool, str]:
    pair = (twinning.city_a_id, twinning.city_b_id)
    if action in (TwinningAction.accept, TwinningAction.decline):
        return (
            permissions.can_answer_twinning(principal, pair, twinning.proposed_by_city_id),
            "Only an official of the invited city (not the proposing one), with twinnings:write, or the twin-city "
            f"programme may {action.value} this twinning.",
        )
    if action in (TwinningAction.activate, TwinningAction.complete):
        return (
            permissions.can_run_twinning(principal, pair),
            f"Only an official of one of the two cities (with twinnings:write), or the twin-city programme, may "
            f"{action.value} this twinning.",
        )
    return (
        permissions.can_coordinate_twinnings(principal),
        "Only the twin-city programme (coordinators, admins) may declare a twinning lapsed.",
    )


def transition(
    session: Session,
    principal: Principal,
    twinning_id: int,
    action: TwinningAction,
    if_match: Precondition,
    note: str = "",
) -> Twinning:
    """Take `action` on the twinning: 403 without the right, 428/412 without the current ETag, 409 when its
    status does not allow it."""
    twinning = get_twinning(session, twinning_id)
    allowed, why_not = _may(principal, twinning, action)
    permissions.require(allowed, why_not)
    expected = if_match()
    if expected != twinning.version:
        raise PreconditionFailed(
            f"This twinning changed since you read it (your version {expected}, now {twinning.version}); "
            "GET it again and decide again.",
            extra={"current_etag": f'"twinning-{twinning_id}-v{twinning.version}"'},
        )
    before = twinning.status
    target = next_status(before, action)
    twinning.version = claim_version(session, Twinning, twinning_id, expected)
    now = datetime.now(UTC)
    twinning.status = target
    if action in (TwinningAction.accept, TwinningAction.decline):
        twinning.decided_at = now
    elif action is TwinningAction.activate:
        twinning.started_at = now
    else:
        twinning.ended_at = now
    session.add(twinning)
    session.flush()
    audit.record(
        session,
        principal,
        f"twinning.{action.value}",
        "twinning",
        twinning_id,
        {"status": {"from": before.value, "to": target.value}, "note": note, "allowed_next": allowed_actions(target)},
        request_id=current_request_id(),
    )
    return twinning
