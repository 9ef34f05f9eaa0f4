"""The delivery worker: fans events out, then sends webhooks per Standard Webhooks, retrying with backoff.

It rides the outbox and keeps all its state in the database, so a request never waits for it and a crash
loses nothing:

1. **Dispatch** (one transaction): committed events not yet dispatched become one delivery per subscribed,
   active endpoint of the organisations told, and one feed entry per member (the actor excepted); the event
   is marked dispatched in the same transaction, so dispatching twice is impossible and a crash repeats it all.
2. **Claim** (one transaction): due deliveries get a lease (`locked_until`); PostgreSQL skips rows another
   worker has locked, SQLite's write lock serialises the claim.
3. **Send** (no transaction): the URL is checked again (app/notifications/ssrf.py, DNS rebinding), the body
   signed with the `standardwebhooks` library (`webhook-id` is the event's id, the same on every attempt, so
   receivers can deduplicate), and POSTed to the checked address; redirects are not followed.
4. **Record** (one transaction): the attempt (status, latency, error) is kept; success ends the delivery,
   failure schedules the next attempt (base * 4**(n-1) seconds, capped) until the retry window (a day) ends:
   then the delivery has failed, the endpoint is disabled and a `webhook.disabled` event tells its organisation.

A worker killed between send and record leaves the delivery leased; when the lease lapses another worker (or
the same one restarted) sends it again with the same webhook-id: delivery is at least once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from standardwebhooks.webhooks import Webhook

from app.core.config import Environment, Settings
from app.core.db import reader_session, writer_session
from app.core.models import utcnow
from app.identity.models import Membership, User
from app.notifications.alerts import match_alerts, search_round
from app.notifications.catalogue import ALERT_SOURCES, subscribed
from app.notifications.digest import digest_round
from app.notifications.leads import lead_round
from app.notifications.mail import event_mail, mail_round
from app.notifications.models import (
    DEFAULT_CHANNEL,
    Channel,
    DeliveryStatus,
    Notification,
    NotificationDigest,
    NotificationPreference,
    NotifyEvent,
    OutgoingMail,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.notifications.outbox import events_written, raise_event
from app.notifications.ssrf import UnsafeUrl, check_url
from search import SearchEngine

log = structlog.get_logger(__name__)

DISPATCH_BATCH = 200
CLAIM_BATCH = 32
USER_AGENT = "citymarket-webhooks/1 (+https://www.standardwebhooks.com/)"


def envelope(event: NotifyEvent) -> dict[str, Any]:
    """What a receiver gets: the same bytes on every attempt of every delivery of this event."""
    return {
        "id": event.public_id,
        "type": event.type,
        "version": event.version,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": event.payload,
    }


def body_of(event: NotifyEvent) -> str:
    return json.dumps(envelope(event), separators=(",", ":"), sort_keys=True)


def retry_delay(settings: Settings, attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return float(
        min(settings.webhook_retry_max_delay_seconds, settings.webhook_retry_base_seconds * 4 ** max(0, attempts - 1))
    )


def check_target(settings: Settings, url: str) -> Any:
    return check_url(
        url, production=settings.env is Environment.production, allow_loopback=settings.webhook_loopback_allowed
    )


# --------------------------------------------------------------------------------------------- dispatch


def dispatch(engine: Engine, settings: Settings) -> int:
    """Fan out committed events (webhook deliveries; feed entries and emails per each person's preference);
    returns how many events were dispatched."""
    pending = col(NotifyEvent.dispatched_at).is_(None)
    with reader_session(engine) as peek:
        if peek.exec(select(NotifyEvent.id).where(pending).limit(1)).first() is None:
            return 0
    with writer_session(engine) as session:
        claim = select(NotifyEvent).where(pending).order_by(col(NotifyEvent.id)).limit(DISPATCH_BATCH)
        if engine.dialect.name == "postgresql":
            claim = claim.with_for_update(skip_locked=True)
        events = list(session.exec(claim).all())
        if not events:
            return 0
        orgs = sorted({o for e in events for o in e.organisation_ids})
        endpoints = session.exec(
            select(WebhookEndpoint).where(
                col(WebhookEndpoint.organisation_id).in_(orgs), col(WebhookEndpoint.is_active).is_(True)
            )
        ).all()
        members = session.exec(
            select(Membership.user_id, Membership.organisation_id)
            .where(col(Membership.organisation_id).in_(orgs))
            .distinct()
        ).all()
        recipients = {e.recipient_user_id for e in events if e.recipient_user_id is not None}
        member_ids = sorted({user for user, _ in members} | recipients)
        channels = {
            (p.user_id, p.event_type): p.channel
            for p in session.exec(
                select(NotificationPreference).where(
                    col(NotificationPreference.user_id).in_(member_ids),
                    col(NotificationPreference.event_type).in_(sorted({e.type for e in events})),
                )
            )
        }
        # A person with the daily digest on gets their email events in it (app/notifications/digest.py).
        digested = set(
            session.exec(
                select(NotificationDigest.user_id).where(
                    col(NotificationDigest.user_id).in_(member_ids), col(NotificationDigest.enabled).is_(True)
                )
            ).all()
        )
        emailed = sorted({user for (user, _), channel in channels.items() if channel is Channel.email} - digested)
        people = {
            u.id: (u.email, u.name)
            for u in session.exec(select(User).where(col(User.id).in_(emailed), col(User.is_active).is_(True)))
        }
        now = utcnow()
        deliveries: list[dict[str, Any]] = []
        feed: list[dict[str, Any]] = []
        mails: list[dict[str, Any]] = []
        for event in events:
            told = set(event.organisation_ids)
            deliveries.extend(
                {
                    "event_id": event.id,
                    "webhook_id": ep.id,
                    "status": DeliveryStatus.pending,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": "",
                    "created_at": now,
                }
                for ep in endpoints
                if ep.organisation_id in told and subscribed(ep.events, event.type)
            )
            if event.recipient_user_id is not None:  # one person's event: nobody else's feed
                users = {event.recipient_user_id} - {event.actor_user_id}
            else:
                users = {user for user, org in members if org in told} - {event.actor_user_id}
            for user in sorted(users):
                channel = channels.get((user, event.type), DEFAULT_CHANNEL)
                if channel is Channel.off:
                    continue
                feed.append({"user_id": user, "event_id": event.id, "created_at": now})
                if channel is Channel.email and user in people:
                    mails.append(event_mail(settings, event, *people[user]))
        # Saved alerts are matched on the new items these events tell of; their alert.matched events are
        # written in this transaction and dispatched by the next round.
        match_alerts(session, [e for e in events if e.type in ALERT_SOURCES])
        if deliveries:
            session.execute(sa.insert(WebhookDelivery), deliveries)
        if feed:
            session.execute(sa.insert(Notification), feed)
        if mails:
            session.execute(sa.insert(OutgoingMail), mails)
        session.execute(
            sa.update(NotifyEvent).where(col(NotifyEvent.id).in_([e.id for e in events])).values(dispatched_at=now)
        )
        session.commit()
    return len(events)


# ------------------------------------------------------------------------------------------ claim, send


@dataclass(frozen=True)
class Job:
    delivery_id: int
    webhook_id: int
    url: str
    secret: str
    msg_id: str
    body: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    latency_ms: float
    error: str = ""


def _due(now: datetime) -> Sequence[sa.ColumnElement[bool]]:
    return (
        col(WebhookDelivery.status) == DeliveryStatus.pending,
        col(WebhookDelivery.next_attempt_at) <= now,
        sa.or_(col(WebhookDelivery.locked_until).is_(None), col(WebhookDelivery.locked_until) < now),
    )


def claim(engine: Engine, settings: Settings, limit: int = CLAIM_BATCH) -> list[Job]:
    """Lease due deliveries to this worker (for webhook_lease_seconds) and return what to send."""
    now = utcnow()
    with reader_session(engine) as peek:
        if peek.exec(select(WebhookDelivery.id).where(*_due(now)).limit(1)).first() is None:
            return []
    with writer_session(engine) as session:
        statement = (
            select(WebhookDelivery, WebhookEndpoint, NotifyEvent)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.webhook_id))
            .join(NotifyEvent, col(NotifyEvent.id) == col(WebhookDelivery.event_id))
            .where(*_due(now))
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(limit)
        )
        if engine.dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True, of=WebhookDelivery)
        rows = session.exec(statement).all()
        jobs: list[Job] = []
        cancelled: list[int] = []
        for delivery, endpoint, event in rows:
            if not endpoint.is_active:
                cancelled.append(delivery.id or 0)
                continue
            jobs.append(
                Job(delivery.id or 0, endpoint.id or 0, endpoint.url, endpoint.secret, event.public_id, body_of(event))
            )
        if cancelled:
            session.execute(
                sa.update(WebhookDelivery)
                .where(col(WebhookDelivery.id).in_(cancelled))
                .values(status=DeliveryStatus.cancelled, last_error="the endpoint is disabled")
            )
        if jobs:
            session.execute(
                sa.update(WebhookDelivery)
                .where(col(WebhookDelivery.id).in_([j.delivery_id for j in jobs]))
                .values(locked_until=now + timedelta(seconds=settings.webhook_lease_seconds))
            )
        session.commit()
    return jobs


def signed_headers(secret: str, msg_id: str, body: str, when: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers, signed by the `standardwebhooks` library."""
    when = when or utcnow()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body),
    }


class Clients:
    """One HTTP client per host name: connections go to the checked address, so the pool (keyed by address)
    must never hand host A's TLS connection to a request for host B on the same address."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def for_host(self, host: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(host)
            if client is None:
                client = httpx.Client(timeout=self.settings.webhook_timeout_seconds, follow_redirects=False)
                self._clients[host] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def send(clients: Clients, settings: Settings, job: Job) -> Outcome:
    """One attempt: check the URL again, connect to the checked address, never follow a redirect."""
    start = time.perf_counter()
    try:
        target = check_target(settings, job.url)
    except UnsafeUrl as exc:
        return Outcome(False, None, 0.0, f"refused: {exc}"[:500])
    client = clients.for_host(target.host)
    pinned = httpx.URL(job.url).copy_with(host=target.address)  # connect to the address just checked
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": host_header,
        **signed_headers(job.secret, job.msg_id, job.body),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        response = client.post(pinned, content=job.body.encode(), headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return Outcome(False, None, (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}"[:500])
    latency = (time.perf_counter() - start) * 1000
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code, latency)
    why = "redirect not followed" if response.is_redirect else f"HTTP {response.status_code}"
    return Outcome(False, response.status_code, latency, why)


# --------------------------------------------------------------------------------------------- record


def record(engine: Engine, settings: Settings, results: Sequence[tuple[Job, Outcome]]) -> None:
    """Keep a round's attempts and their consequences, in one transaction (one write lock on SQLite)."""
    with writer_session(engine) as session:
        for job, outcome in results:
            _record_one(session, settings, job, outcome)
        session.commit()


def _record_one(session: Session, settings: Settings, job: Job, outcome: Outcome) -> None:
    delivery = session.get(WebhookDelivery, job.delivery_id)
    if delivery is None:  # the endpoint was deleted meanwhile
        return
    session.add(
        WebhookAttempt(
            delivery_id=job.delivery_id,
            status_code=outcome.status_code,
            latency_ms=round(outcome.latency_ms, 3),
            error=outcome.error,
        )
    )
    now = utcnow()
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.locked_until = None
    if delivery.status is not DeliveryStatus.pending:
        pass  # cancelled meanwhile: keep the attempt, change nothing else
    elif outcome.ok:
        delivery.status = DeliveryStatus.succeeded
        delivery.delivered_at = now
    else:
        delay = retry_delay(settings, delivery.attempts)
        deadline = delivery.first_attempt_at + timedelta(seconds=settings.webhook_retry_window_seconds)
        if now + timedelta(seconds=delay) > deadline:
            delivery.status = DeliveryStatus.failed
            session.add(delivery)
            session.flush()
            _disable(
                session,
                job.webhook_id,
                f"delivery {job.delivery_id} failed for the whole retry window "
                f"({delivery.attempts} attempts; last: {outcome.error or outcome.status_code})",
            )
        else:
            delivery.next_attempt_at = now + timedelta(seconds=delay)
    session.add(delivery)
    session.flush()


def _disable(session: Session, webhook_id: int, reason: str) -> None:
    endpoint = session.get(WebhookEndpoint, webhook_id)
    if endpoint is None or not endpoint.is_active:
        return
    endpoint.is_active = False
    endpoint.disabled_reason = reason[:500]
    endpoint.version += 1
    session.add(endpoint)
    session.execute(
        sa.update(WebhookDelivery)
        .where(col(WebhookDelivery.webhook_id) == webhook_id, col(WebhookDelivery.status) == DeliveryStatus.pending)
        .values(status=DeliveryStatus.cancelled, last_error="the endpoint was disabled")
    )
    raise_event(
        session,
        "webhook.disabled",
        {"webhook_id": webhook_id, "url": endpoint.url, "reason": endpoint.disabled_reason},
        [endpoint.organisation_id],
    )
    log.warning("webhook endpoint disabled", webhook_id=webhook_id, reason=reason)


# --------------------------------------------------------------------------------------------- worker


class Notifier:
    """Dispatch, claim, send (concurrently), record; `run_once` is one round, `run` loops until stopped."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        concurrency: int = 8,
        clock: Callable[[], datetime] = utcnow,
        search: SearchEngine | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.search = search  # saved searches run against it (None: they wait for a notifier that has one)
        self._digest_day: date | None = None  # the last day this worker ran the digest (the DB keeps the truth)
        self.clients = Clients(settings)
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook-send")

    def run_once(self) -> int:
        done = lead_round(self.engine, self.settings) + dispatch(self.engine, self.settings)
        if self.search is not None:
            done += search_round(self.engine, self.search)
        now = self.clock()
        if now.hour >= self.settings.notify_digest_hour_utc and self._digest_day != now.date():
            done += digest_round(self.engine, self.settings, now)
            self._digest_day = now.date()
        jobs = claim(self.engine, self.settings)
        if jobs:
            outcomes = list(self.pool.map(lambda j: send(self.clients, self.settings, j), jobs))
            record(self.engine, self.settings, list(zip(jobs, outcomes, strict=True)))
        return done + len(jobs) + mail_round(self.engine, self.settings)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # keep going: all state is in the database, the next round retries
                log.exception("notifier round failed")
                busy = 0
                stop.wait(1.0)
            if not busy:
                events_written.wait(self.settings.notifier_poll_seconds)
                events_written.clear()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.clients.close()


class BackgroundNotifier:
    """The embedded mode's delivery worker: a daemon thread of the API process, woken by commits."""

    def __init__(self, engine: Engine, settings: Settings, search: SearchEngine | None = None) -> None:
        self.notifier = Notifier(engine, settings, search=search)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        self.notifier.run(self._stop)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        events_written.set()
        self._thread.join(timeout)
        self.notifier.close()
