"""Feed latency: from the commit of a write to the entry in a person's feed, and from a publication to the
alert.matched entry of a saved alert that it matches.

`python -m bench.feed [--data-dir /tmp/cm-bench-feed] [--database-url postgresql+psycopg://...] [--events 100]`
(a PostgreSQL database given is emptied first: give it one of its own). The embedded mode's notifier (a thread of
this process, woken by the commit, as in `citymarket serve`) dispatches each event. Two runs, one event at a time:

- an admin verifies (then unverifies) a vendor through the vendors service: vendor.verified tells the vendor's
  member, and the time is until their feed entry exists;
- an admin publishes a listing (through the solutions service) that matches a city official's saved alert
  (Water Supply Loss offered in Norway): solution.published is dispatched, the alert matched in that
  transaction, and alert.matched dispatched by the next round: the time is until the official's entry exists.

The entry is looked for every 0.5 ms on a connection of its own (what a client polling the feed would see); the
baseline is that look-up alone.
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import app.models  # noqa: F401  (every table, and the outbox hooks)
from app.auth.principal import ALL_SCOPES, Membership, Principal
from app.core.config import Settings
from app.core.db import make_engine, unit_of_work
from app.core.migrations import upgrade
from app.identity.models import OrganisationKind, Role
from app.identity.service import add_membership, create_user, ensure_organisation
from app.kpis.models import Kpi
from app.notifications.delivery import BackgroundNotifier
from app.notifications.models import Alert, AlertTarget, Notification, NotifyEvent
from app.solutions import lifecycle
from app.solutions import service as solutions
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Maturity,
    PriceModel,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionKpiImpact,
)
from app.vendors import service as vendors
from app.vendors.models import Vendor, VendorSize
from app.vendors.schemas import VendorVerifyIn
from bench.common import Timing


def _entry(engine: Engine, user_id: int, event_type: str, after_event: int) -> bool:
    with Session(engine) as session:
        return (
            session.exec(
                select(Notification.id)
                .join(NotifyEvent, col(NotifyEvent.id) == col(Notification.event_id))
                .where(Notification.user_id == user_id, NotifyEvent.type == event_type, NotifyEvent.id > after_event)
                .limit(1)
            ).first()
            is not None
        )


def _wait(engine: Engine, user_id: int, event_type: str, after_event: int, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while not _entry(engine, user_id, event_type, after_event):
        if time.monotonic() > deadline:
            raise SystemExit(f"no {event_type} entry for user {user_id} in {timeout} s")
        time.sleep(0.0005)
    return time.perf_counter()


def _last_event(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(NotifyEvent.id).order_by(col(NotifyEvent.id).desc()).limit(1)).first() or 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="/tmp/cm-bench-feed")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir, database_url=args.database_url, notifier_poll_seconds=1.0)
    engine = make_engine(settings)
    if engine.dialect.name == "postgresql":  # the benchmark owns the database it is given: start empty
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade(engine)
    n = args.events
    with unit_of_work(engine) as session:
        from seeds.loader import load_reference

        load_reference(session)
        vendor = Vendor(slug="bench-vendor", name="Bench Vendor AS", country_code="NO", size=VendorSize.small)
        session.add(vendor)
        session.flush()
        vendor_org = ensure_organisation(session, OrganisationKind.vendor, vendor.id)
        platform = ensure_organisation(session, OrganisationKind.platform)
        member = create_user(session, email="member@bench.test", name="Member", password=None)
        add_membership(session, member, vendor_org, Role.vendor_member)
        official = create_user(session, email="official@bench.test", name="Official", password=None)
        session.flush()
        session.add(
            Alert(
                user_id=official.id or 0,
                name="Water loss in Norway",
                target=AlertTarget.solutions,
                filters={"kpi": "EC-I-WS-3C", "country": "NO"},
            )
        )
        kpi = session.exec(select(Kpi).where(Kpi.slug == "EC-I-WS-3C")).one()
        listings = []
        for i in range(n):
            listing = Solution(
                vendor_id=vendor.id or 0,
                slug=f"bench-leaks-{i}",
                title=f"Leak finder {i}",
                summary="Finds leaks.",
                maturity=Maturity.pilot,
                price_model=PriceModel.licence,
                status=ListingStatus.submitted,
                submitted_at=datetime.now(UTC),
            )
            session.add(listing)
            session.flush()
            sid = listing.id or 0
            session.add_all(
                [
                    SolutionCategory(solution_id=sid, category="Water and Sanitation"),
                    SolutionCountry(solution_id=sid, country_code="NO"),
                    SolutionKpiImpact(
                        solution_id=sid, kpi_id=kpi.id or 0, expected_effect=0.2, evidence_level=EvidenceLevel.claimed
                    ),
                ]
            )
            listings.append(sid)
        vendor_id, platform_id = vendor.id or 0, platform.id or 0
        member_id, official_id = member.id or 0, official.id or 0
    admin = Principal(
        subject="bench",
        memberships=(Membership(platform_id, OrganisationKind.platform, None, Role.admin),),
        scopes=ALL_SCOPES,
    )
    worker = BackgroundNotifier(engine, settings)
    worker.start()

    def verify(i: int) -> float:
        with unit_of_work(engine) as session:
            version = session.exec(select(Vendor.version).where(Vendor.id == vendor_id)).one()
            vendors.verify_vendor(session, admin, vendor_id, VendorVerifyIn(verified=i % 2 == 0), lambda: version)
        return time.perf_counter()

    def publish(solution_id: int) -> float:
        with unit_of_work(engine) as session:
            solutions.transition_solution(session, admin, solution_id, lifecycle.Action.publish, lambda: 1)
        return time.perf_counter()

    feed_samples = []
    for i in range(n):
        before = _last_event(engine)
        committed = verify(i)
        event_type = "vendor.verified" if i % 2 == 0 else "vendor.unverified"
        feed_samples.append((_wait(engine, member_id, event_type, before) - committed) * 1000)
    alert_samples = []
    for solution_id in listings:
        before = _last_event(engine)
        committed = publish(solution_id)
        alert_samples.append((_wait(engine, official_id, "alert.matched", before) - committed) * 1000)
    worker.stop()

    lookups = []
    for _ in range(n):
        start = time.perf_counter()
        _entry(engine, member_id, "vendor.verified", 0)
        lookups.append((time.perf_counter() - start) * 1000)
    timings = (
        Timing("event -> feed entry", feed_samples),
        Timing("publication -> alert.matched entry", alert_samples),
        Timing("the feed look-up alone", lookups),
    )
    print(f"database: {engine.dialect.name}; {n} events per run; notifier in process (embedded mode)")
    for t in timings:
        print(f"  {t.name:<40} p50 {t.p50:8.2f} ms   p95 {t.p95:8.2f} ms   max {max(t.samples_ms):8.2f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
