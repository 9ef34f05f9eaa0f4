"""Webhook delivery latency: from the commit of a write to the receipt of its signed webhook on loopback.

`python -m bench.webhooks [--data-dir /tmp/cm-bench-webhooks] [--database-url postgresql+psycopg://...]
[--events 200]` (a PostgreSQL database given is emptied first: give it one of its own). The embedded mode's
delivery worker (a thread of this process, woken by the commit, as in `citymarket serve`) sends each event to
a real HTTP receiver on 127.0.0.1; each write is an admin verifying (then unverifying) a vendor through the
vendors service, whose audit event raises vendor.verified (vendor.unverified) in the same transaction. Two
runs: one event at a time (idle-path latency), and a burst of all events committed back to back. The
baseline is a bare signed POST to the same receiver.
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

import app.models  # noqa: F401  (every table, and the outbox hooks)
from app.auth.principal import ALL_SCOPES, Membership, Principal
from app.core.config import Settings
from app.core.db import make_engine, unit_of_work
from app.core.migrations import upgrade
from app.identity.models import OrganisationKind, Role
from app.identity.service import ensure_organisation
from app.notifications.delivery import BackgroundNotifier, signed_headers
from app.notifications.models import WebhookEndpoint
from app.notifications.service import new_secret
from app.vendors import service as vendors
from app.vendors.models import Vendor, VendorSize
from app.vendors.schemas import VendorVerifyIn
from bench.common import Timing

PORT = 8640


class Receiver:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind a proxy would

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                now = time.perf_counter()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()
                with receiver.cond:
                    receiver.arrived.setdefault(self.headers["webhook-id"], now)
                    receiver.cond.notify_all()

            def log_message(self, *_args: Any) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 128  # the default backlog of 5 drops concurrent connects
        self.server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.arrived) < count:
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise SystemExit(f"only {len(self.arrived)} of {count} webhooks arrived")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="/tmp/cm-bench-webhooks")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir, database_url=args.database_url, notifier_poll_seconds=1.0)
    engine = make_engine(settings)
    if engine.dialect.name == "postgresql":  # the benchmark owns the database it is given: start empty
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade(engine)
    with unit_of_work(engine) as session:
        from seeds.loader import load_reference

        load_reference(session)
        vendor = Vendor(slug="bench-vendor", name="Bench Vendor AS", country_code="NO", size=VendorSize.small)
        session.add(vendor)
        session.flush()
        organisation = ensure_organisation(session, OrganisationKind.vendor, vendor.id)
        platform = ensure_organisation(session, OrganisationKind.platform)
        session.add(
            WebhookEndpoint(
                organisation_id=organisation.id or 0,
                url=f"http://127.0.0.1:{PORT}/hook",
                events=["*"],
                secret=new_secret(),
            )
        )
        vendor_id, platform_id = vendor.id or 0, platform.id or 0
    admin = Principal(
        subject="bench",
        memberships=(Membership(platform_id, OrganisationKind.platform, None, Role.admin),),
        scopes=ALL_SCOPES,
    )
    receiver = Receiver()
    worker = BackgroundNotifier(engine, settings)
    worker.start()

    def write(i: int) -> float:
        with unit_of_work(engine) as session:
            version = session.exec(select(Vendor.version).where(Vendor.id == vendor_id)).one()
            vendors.verify_vendor(session, admin, vendor_id, VendorVerifyIn(verified=i % 2 == 0), lambda: version)
        return time.perf_counter()  # committed: the event exists

    from app.notifications.models import NotifyEvent

    def event_ids() -> list[str]:
        with unit_of_work(engine) as session:
            return list(session.exec(select(NotifyEvent.public_id).order_by(NotifyEvent.id)).all())  # type: ignore[arg-type]

    n = args.events
    committed: list[float] = []
    for i in range(n):  # one at a time
        committed.append(write(i))
        receiver.wait(i + 1)
    ids = event_ids()
    sequential = Timing(
        "event -> receipt, one at a time",
        [(receiver.arrived[e] - c) * 1000 for e, c in zip(ids, committed, strict=True)],
    )

    burst_start = time.perf_counter()
    burst_committed = [write(n + i) for i in range(n)]
    writes_took = burst_committed[-1] - burst_start
    receiver.wait(2 * n)
    drained = max(receiver.arrived.values()) - burst_committed[-1]
    ids = event_ids()[n:]
    burst = Timing(
        f"event -> receipt, burst of {n}",
        [(receiver.arrived[e] - c) * 1000 for e, c in zip(ids, burst_committed, strict=True)],
    )
    worker.stop()

    secret = new_secret()
    samples = []
    with httpx.Client() as client:
        for i in range(n):
            body = '{"type":"bench"}'
            start = time.perf_counter()
            client.post(
                f"http://127.0.0.1:{PORT}/hook", content=body, headers=signed_headers(secret, f"evt_base_{i}", body)
            )
            samples.append((time.perf_counter() - start) * 1000)
    baseline = Timing("bare signed POST to the receiver", samples)
    print(f"database: {engine.dialect.name}; {n} events per run; webhook worker in process (embedded mode)")
    for t in (sequential, burst, baseline):
        print(f"  {t.name:<40} p50 {t.p50:8.2f} ms   p95 {t.p95:8.2f} ms   max {max(t.samples_ms):8.2f} ms")
    print(
        f"  burst: {n} writes took {writes_took * 1000:.0f} ms ({n / writes_took:.0f}/s); the last webhook arrived "
        f"{drained * 1000:.0f} ms after the last commit"
    )
    print(f"  p95 ratio (one at a time / bare POST): {sequential.p95 / baseline.p95:.1f}x")
    receiver.server.shutdown()
    engine.dispose()


if __name__ == "__main__":
    main()
