"""New leads: after a city's KPI values change, tell vendors whose listings newly rank for it (docs/architecture.md,
"The event outbox and webhook deliveries").

The request that writes a city's KPI values only queues a `lead_check` row for the city (the outbox hook, in the
same transaction: app/notifications/outbox.py). The notifier takes the pending checks (`lead_round`), ranks the
published listings offered in each city's country on the matching snapshot (the ranking `GET
/api/v1/cities/{id}/matches` and the leads of `GET /api/v1/solutions/{id}/leads` compute: the same score), at
most `notify_lead_scan_limit` of them, and raises `lead.new` to the vendor of each listing scoring at least
`notify_lead_min_score` that was never told of this city before (`lead_notice`: told once per listing and city).
Only cities whose data are public give leads, as the leads API says. A crash before the commit repeats the
check; the notices make it tell nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.config import Settings
from app.core.db import reader_session, writer_session
from app.core.models import utcnow
from app.identity.models import Organisation, OrganisationKind
from app.matches.schemas import MatchScope
from app.matches.service.shared import current_snapshot
from app.matches.service.solutions_for_city import rank_solutions
from app.notifications.models import LeadCheck, LeadNotice
from app.notifications.outbox import raise_event

CHECK_BATCH = 20
REASON_KPIS = 5


def _pending() -> sa.ColumnElement[bool]:
    return col(LeadCheck.done_at).is_(None)


@dataclass(frozen=True)
class Lead:
    payload: dict[str, Any]
    solution_id: int
    vendor_id: int
    score: float


def rank_city(settings: Settings, city_id: int, snapshot: Any) -> list[Lead]:
    """The listings ranking for this city at or above the threshold (no database statement: the snapshot's)."""
    row = snapshot.city_row(city_id)
    if row is None or not bool(snapshot.city_public[row]):
        return []
    ranked = rank_solutions(
        snapshot, row, settings.matching, limit=settings.notify_lead_scan_limit, scope=MatchScope.country
    )
    threshold, city = settings.notify_lead_min_score, ranked.city
    return [
        Lead(
            {
                "solution_id": item.solution.id,
                "solution_title": item.solution.title,
                "vendor_id": item.solution.vendor.id,
                "city_id": city.id,
                "city_name": city.name,
                "country_code": city.country_code,
                "score": item.score,
                "threshold": threshold,
                "kpis": [k.kpi for k in item.reasons.kpis if k.gap is not None and k.gap > 0][:REASON_KPIS],
            },
            item.solution.id,
            item.solution.vendor.id,
            item.score,
        )
        for item in ranked.items
        if item.score >= threshold
    ]


def tell(session: Session, city_id: int, leads: list[Lead]) -> int:
    """Raise lead.new for the leads never told of this city; returns how many were raised."""
    if not leads:
        return 0
    told = set(
        session.exec(
            select(LeadNotice.solution_id).where(
                LeadNotice.city_id == city_id, col(LeadNotice.solution_id).in_([lead.solution_id for lead in leads])
            )
        ).all()
    )
    fresh = [lead for lead in leads if lead.solution_id not in told]
    if not fresh:
        return 0
    organisations: dict[int, list[int]] = {}
    for org_id, vendor_id in session.exec(
        select(Organisation.id, Organisation.vendor_id).where(
            Organisation.kind == OrganisationKind.vendor,
            col(Organisation.vendor_id).in_(sorted({lead.vendor_id for lead in fresh})),
        )
    ).all():
        if org_id is not None and vendor_id is not None:
            organisations.setdefault(vendor_id, []).append(org_id)
    now = utcnow()
    session.execute(
        sa.insert(LeadNotice),
        [{"solution_id": x.solution_id, "city_id": city_id, "score": x.score, "created_at": now} for x in fresh],
    )
    for lead in fresh:
        raise_event(session, "lead.new", lead.payload, organisations.get(lead.vendor_id, []))
    return len(fresh)


def lead_round(engine: Engine, settings: Settings) -> int:
    """Take the pending lead checks (a batch of cities), tell the new leads, mark the checks done; returns how
    many checks were done. The ranking runs outside the write transaction (on SQLite a writer holds the one
    write lock): a reader takes the snapshot, the writer only records."""
    with reader_session(engine) as reader:
        pending = list(reader.exec(select(LeadCheck).where(_pending()).order_by(col(LeadCheck.id)).limit(CHECK_BATCH)))
        if not pending:
            return 0
        snapshot = current_snapshot(reader, settings, force=True)  # the values just written, by any process
        ranked = {city: rank_city(settings, city, snapshot) for city in sorted({c.city_id for c in pending})}
    with writer_session(engine) as session:
        claim = select(LeadCheck).where(col(LeadCheck.id).in_([c.id for c in pending]), _pending())
        if engine.dialect.name == "postgresql":
            claim = claim.with_for_update(skip_locked=True)  # another notifier may be recording the same checks
        checks = list(session.exec(claim).all())
        if not checks:
            return 0
        for city_id in sorted({c.city_id for c in checks}):
            tell(session, city_id, ranked[city_id])
        session.execute(
            sa.update(LeadCheck).where(col(LeadCheck.id).in_([c.id for c in checks])).values(done_at=utcnow())
        )
        session.commit()
    return len(checks)
