"""The daily digest (docs/architecture.md, "The event outbox and webhook deliveries").

A person who turns the digest on (`PUT /api/v1/me/notification-preferences` with `"digest": true`) keeps their
per-type channels, but the event types set to `email` are no longer mailed one by one at dispatch
(app/notifications/delivery.py): their feed entries are collected into one email a day (plain text and HTML,
app/notifications/mail.py), written to the mail outbox by `digest_round`, which `citymarket notify digest` runs
and the notifier runs itself once a day from `CITYMARKET_NOTIFY_DIGEST_HOUR_UTC`. It is idempotent: each person's
`notification_digest` row keeps the last feed entry covered (`sent_up_to`) and the day of the last run that
covered them (`last_sent_on`), updated in the transaction that enqueues the mail, so a second run on the same day
(or a run after a crash that committed) sends nothing more. The clock is a parameter (tests inject it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.config import Settings
from app.core.db import writer_session
from app.identity.models import User
from app.notifications.mail import enqueue, event_title, render
from app.notifications.models import (
    Channel,
    Notification,
    NotificationDigest,
    NotificationPreference,
    NotifyEvent,
)

BATCH = 200
MAX_ITEMS = 200


def _items(session: Session, digest: NotificationDigest, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """The entries of the person's email event types since the marker (up to `now`), and the new marker."""
    emailed = session.exec(
        select(NotificationPreference.event_type).where(
            NotificationPreference.user_id == digest.user_id, NotificationPreference.channel == Channel.email
        )
    ).all()
    since = (
        Notification.user_id == digest.user_id,
        col(Notification.id) > digest.sent_up_to,
        col(Notification.created_at) <= now,
    )
    marker = session.exec(select(sa.func.max(Notification.id)).where(*since)).one()
    if marker is None:
        return [], digest.sent_up_to
    rows = session.exec(
        select(NotifyEvent)
        .join(Notification, col(Notification.event_id) == col(NotifyEvent.id))
        .where(*since, col(NotifyEvent.type).in_(emailed))
        .order_by(col(Notification.id))
        .limit(MAX_ITEMS)
    ).all()
    items = [
        {
            "title": event_title(event),
            "type": event.type,
            "when": event.occurred_at.strftime("%Y-%m-%d %H:%M UTC"),
            "data": {k: v for k, v in event.payload.items() if not isinstance(v, dict | list)},
        }
        for event in rows
    ]
    return items, int(marker)


def digest_round(engine: Engine, settings: Settings, now: datetime) -> int:
    """Enqueue today's digest for every person with the digest on who has not had today's; returns the number
    of mails enqueued (a person with nothing new gets none, and is done for the day)."""
    today = now.date()
    enqueued = 0
    while True:
        with writer_session(engine) as session:
            statement = (
                select(NotificationDigest)
                .where(
                    col(NotificationDigest.enabled).is_(True),
                    sa.or_(
                        col(NotificationDigest.last_sent_on).is_(None), col(NotificationDigest.last_sent_on) < today
                    ),
                )
                .order_by(col(NotificationDigest.user_id))
                .limit(BATCH)
            )
            if engine.dialect.name == "postgresql":
                statement = statement.with_for_update(skip_locked=True)
            digests = list(session.exec(statement).all())
            if not digests:
                return enqueued
            users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_([d.user_id for d in digests])))}
            for digest in digests:
                user = users.get(digest.user_id)
                items, marker = _items(session, digest, now)
                if items and user is not None and user.is_active:
                    rendered = render(
                        "digest",
                        name=user.name,
                        day=today.isoformat(),
                        items=items,
                        base_url=settings.public_base_url.rstrip("/"),
                    )
                    enqueue(session, user.email, rendered, f"digest:{today.isoformat()}")
                    enqueued += 1
                digest.sent_up_to = marker
                digest.last_sent_on = today
                session.add(digest)
            session.commit()
