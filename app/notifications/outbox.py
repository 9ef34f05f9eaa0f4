"""Events ride the outbox: an audited write raises its catalogue event in the same transaction.

Like the search outbox (app/search_index/outbox.py), this hooks the ORM session after each flush: every new
audit event whose action the catalogue knows (app/notifications/catalogue.py) becomes a `notify_event` row
on the same connection, so the event commits or rolls back with the change. Nothing is sent here: the
dispatcher (app/notifications/delivery.py) reads committed events later, in another transaction.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction
from sqlmodel import Session as ModelSession

from app.audit.models import AuditEvent
from app.core.models import utcnow
from app.notifications.catalogue import ALERT_SOURCES, BY_AUDIT_ACTION, CATALOGUE, LEAD_SOURCES
from app.notifications.models import LeadCheck, NotifyEvent

# Set after a commit that wrote events: the in-process delivery worker wakes up at once.
events_written = threading.Event()
_FLAG = "notify_events_written"


def new_public_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def event_row(
    type_: str,
    payload: dict[str, Any],
    organisation_ids: list[int],
    actor: int | None,
    recipient: int | None = None,
) -> dict[str, Any]:
    return {
        "recipient_user_id": recipient,
        "public_id": new_public_id(),
        "type": type_,
        "version": CATALOGUE[type_].version,
        "payload": payload,
        "organisation_ids": sorted(set(organisation_ids)),
        "actor_user_id": actor,
        "occurred_at": utcnow(),
    }


def raise_event(
    session: Session,
    type_: str,
    payload: dict[str, Any],
    organisation_ids: list[int],
    actor: int | None = None,
    recipient: int | None = None,
) -> None:
    """Write an event directly, in the session's transaction (for events notifications itself raises,
    such as webhook.disabled, lead.new and alert.matched)."""
    if organisation_ids or recipient is not None:
        row = event_row(type_, payload, organisation_ids, actor, recipient)
        session.connection().execute(sa.insert(NotifyEvent), [row])
        session.info[_FLAG] = True


@event.listens_for(Session, "after_flush")
def _raise_events(session: Session, _flush: UOWTransaction) -> None:
    if not isinstance(session, ModelSession):
        return
    new_audits = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    cities = sorted({int(a.object_id) for a in new_audits if a.action in LEAD_SOURCES})
    if cities:  # a city's KPI values changed: the notifier looks for new leads there, later
        now = utcnow()
        session.connection().execute(sa.insert(LeadCheck), [{"city_id": c, "created_at": now} for c in cities])
        session.info[_FLAG] = True
    audits = [obj for obj in new_audits if obj.action in BY_AUDIT_ACTION]
    if not audits:
        return
    rows: list[dict[str, Any]] = []
    with session.no_autoflush:
        for audit in sorted(audits, key=lambda a: a.id or 0):
            kind = BY_AUDIT_ACTION[audit.action]
            assert kind.build is not None
            raised = kind.build(session, audit)
            if raised is None:
                continue
            # An event nobody is told of is dropped, unless saved alerts are matched on it.
            if not raised.organisation_ids and raised.recipient_user_id is None and kind.name not in ALERT_SOURCES:
                continue
            payload = raised.payload.model_dump(mode="json")
            rows.append(
                event_row(kind.name, payload, raised.organisation_ids, audit.actor_user_id, raised.recipient_user_id)
            )
    if rows:
        session.connection().execute(sa.insert(NotifyEvent), rows)
        session.info[_FLAG] = True


@event.listens_for(Session, "after_commit")
def _wake_worker(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        events_written.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_FLAG, None)
