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


def check_city(session: Session, settings: Settings, city_id: int, snapshot: Any) -> int:
    """Raise lead.new for the listings newly ranking for this city; returns how many were raised."""
    row = snapshot.city_row(city_id)
    if row is None or not bool(snapshot.city_public[row]):
        return 0
    ranked = rank_solutions(
        snapshot, row, settings.matching, limit=settings.notify_lead_scan_limit, scope=MatchScope.country
    )
    threshold = settings.notify_lead_min_score
    qualifying = [item for item in ranked.items if item.score >= threshold]
    if not qualifying:
        return 0
    told = set(
        session.exec(
            select(LeadNotice.solution_id).where(
                LeadNotice.city_id == city_id,
                col(LeadNotice.solution_id).in_([item.solution.id for item in qualifying]),
            )
        ).all()
    )
    fresh = [item for item in qualifying if item.solution.id not in told]
    if not fresh:
        return 0
    vendors = sorted({item.solution.vendor.id for item in fresh})
    organisations: dict[int, list[int]] = {}
    for org_id, vendor_id in session.exec(
        select(Organisation.id, Organisation.vendor_id).where(
            Organisation.kind == OrganisationKind.vendor, col(Organisation.vendor_id).in_(vendors)
        )
    ).all():
        if org_id is not None and vendor_id is not None:
            organisations.setdefault(vendor_id, []).append(org_id)
    now = utcnow()
    session.execute(
        sa.insert(LeadNotice),
        [{"solution_id": i.solution.id, "city_id": city_id, "score": i.score, "created_at": now} for i in fresh],
    )
    city = ranked.city
    for item in fresh:
        payload = {
            "solution_id": item.solution.id,
            "solution_title": item.solution.title,
            "vendor_id": item.solution.vendor.id,
            "city_id": city.id,
            "city_name": city.name,
            "country_code": city.country_code,
            "score": item.score,
            "threshold": threshold,
            "kpis": [k.kpi for k in item.reasons.kpis if k.gap is not None and k.gap > 0][:REASON_KPIS],
        }
        raise_event(session, "lead.new", payload, organisations.get(item.solution.vendor.id, []))
    return len(fresh)


def lead_round(engine: Engine, settings: Settings) -> int:
    """Take the pending lead checks (a batch of cities), tell the new leads, mark the checks done; returns how
    many checks were done."""
    with reader_session(engine) as peek:
        if peek.exec(select(LeadCheck.id).where(_pending()).limit(1)).first() is None:
            return 0
    with writer_session(engine) as session:
        claim = select(LeadCheck).where(_pending()).order_by(col(LeadCheck.id)).limit(CHECK_BATCH)
        if engine.dialect.name == "postgresql":
            claim = claim.with_for_update(skip_locked=True)
        checks = list(session.exec(claim).all())
        if not checks:
            return 0
        snapshot = current_snapshot(session, settings, force=True)  # the values just written, by any process
        for city_id in sorted({c.city_id for c in checks}):
            check_city(session, settings, city_id, snapshot)
        session.execute(
            sa.update(LeadCheck).where(col(LeadCheck.id).in_([c.id for c in checks])).values(done_at=utcnow())
        )
        session.commit()
    return len(checks)
