"""Webhook endpoints, their deliveries, and each person's feed: the logic both faces call (never commits)."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit.service import record
from app.auth import permissions
from app.auth.principal import Principal
from app.core.concurrency import ExpectedVersion, claim_version
from app.core.config import Settings
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.notifications.catalogue import CATALOGUE, EventEnvelope
from app.notifications.delivery import check_target
from app.notifications.models import (
    DeliveryStatus,
    Notification,
    NotifyEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.notifications.schemas import (
    DeliveryOut,
    MarkedReadOut,
    MarkReadIn,
    NotificationOut,
    NotificationPage,
    WebhookCreateIn,
    WebhookOut,
    WebhookUpdateIn,
    WebhookWithSecretOut,
)
from app.notifications.ssrf import UnsafeUrl

KIND = "webhook"


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes, as the Standard Webhooks libraries read it."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def event_types() -> list[dict[str, Any]]:
    return [
        {"type": t.name, "version": t.version, "description": t.description, "payload": t.payload.model_json_schema()}
        for t in CATALOGUE.values()
    ]


def _checked_url(settings: Settings, url: str) -> str:
    try:
        check_target(settings, url)
    except UnsafeUrl as exc:
        raise InvalidInput(
            f"Invalid request: body.url. {exc}",
            errors=[{"field": "body.url", "message": str(exc), "type": "unsafe_url"}],
        ) from exc
    return url


def _organisation_for(principal: Principal, requested: int | None) -> int:
    if requested is not None:
        if not permissions.can_manage_webhooks(principal, requested):
            raise Forbidden(
                f"Only members of organisation {requested} (with a write scope) and admins may manage its webhooks."
            )
        return requested
    own = sorted({m.organisation_id for m in principal.memberships})
    if len(own) != 1:
        raise InvalidInput(
            "Invalid request: body.organisation_id. You act for "
            + ("no organisation" if not own else f"several organisations ({own})")
            + ": name the one whose endpoint this is.",
            errors=[{"field": "body.organisation_id", "message": "required for this caller", "type": "missing"}],
        )
    if not permissions.can_manage_webhooks(principal, own[0]):
        raise Forbidden("Registering a webhook needs a write scope of your role (a read-only token may not).")
    return own[0]


def _load(session: Session, principal: Principal, webhook_id: int) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, webhook_id)
    if row is None or not permissions.can_manage_webhooks(principal, row.organisation_id):
        raise NotFound(f"No webhook with id {webhook_id}.")  # 404, not 403: another organisation's is not yours to see
    return row


def create_webhook(
    session: Session, principal: Principal, settings: Settings, data: WebhookCreateIn
) -> WebhookWithSecretOut:
    organisation_id = _organisation_for(principal, data.organisation_id)
    row = WebhookEndpoint(
        organisation_id=organisation_id,
        url=_checked_url(settings, data.url),
        events=data.events,
        description=data.description,
        secret=new_secret(),
        created_by_user_id=principal.user_id,
    )
    session.add(row)
    session.flush()
    record(session, principal, "webhook.create", KIND, row.id or 0, {"url": row.url, "events": row.events})
    return WebhookWithSecretOut.with_secret(row)


def list_webhooks(
    session: Session, principal: Principal, page: PageRequest, organisation_id: int | None = None
) -> PageResult[WebhookEndpoint]:
    statement = select(WebhookEndpoint)
    if not principal.is_admin:
        statement = statement.where(
            col(WebhookEndpoint.organisation_id).in_(sorted(permissions.webhook_organisations(principal)))
        )
    if organisation_id is not None:
        statement = statement.where(WebhookEndpoint.organisation_id == organisation_id)
    return paginate(session, statement, [SortKey(WebhookEndpoint.id)], page)  # type: ignore[arg-type]


def get_webhook(session: Session, principal: Principal, webhook_id: int) -> WebhookOut:
    return WebhookOut.from_model(_load(session, principal, webhook_id))


def update_webhook(
    session: Session,
    principal: Principal,
    settings: Settings,
    webhook_id: int,
    data: WebhookUpdateIn,
    expected: ExpectedVersion,
) -> WebhookOut:
    row = _load(session, principal, webhook_id)
    row.version = claim_version(session, WebhookEndpoint, webhook_id, expected())
    before = {"url": row.url, "events": row.events, "description": row.description, "enabled": row.is_active}
    if data.url is not None:
        row.url = _checked_url(settings, data.url)
    if data.events is not None:
        row.events = data.events
    if data.description is not None:
        row.description = data.description
    if data.enabled is not None:
        row.is_active = data.enabled
        if data.enabled:
            row.disabled_reason = ""
    session.add(row)
    session.flush()
    after = {"url": row.url, "events": row.events, "description": row.description, "enabled": row.is_active}
    record(
        session,
        principal,
        "webhook.update",
        KIND,
        webhook_id,
        {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v},
    )
    return WebhookOut.from_model(row)


def rotate_secret(session: Session, principal: Principal, webhook_id: int) -> WebhookWithSecretOut:
    """A new secret at once (the old one stops verifying with the next delivery)."""
    row = _load(session, principal, webhook_id)
    row.version = claim_version(session, WebhookEndpoint, webhook_id, row.version)
    row.secret = new_secret()
    session.add(row)
    session.flush()
    record(session, principal, "webhook.rotate_secret", KIND, webhook_id, {})
    return WebhookWithSecretOut.with_secret(row)


def delete_webhook(session: Session, principal: Principal, webhook_id: int) -> None:
    row = _load(session, principal, webhook_id)
    record(session, principal, "webhook.delete", KIND, webhook_id, {"url": row.url, "events": row.events})
    session.execute(
        sa.delete(WebhookDelivery)
        .where(col(WebhookDelivery.webhook_id) == webhook_id)
        .execution_options(synchronize_session=False)
    )
    session.delete(row)
    session.flush()


def _deliveries_out(session: Session, rows: list[WebhookDelivery]) -> list[DeliveryOut]:
    ids = [r.id for r in rows]
    events = {
        e.id: e for e in session.exec(select(NotifyEvent).where(col(NotifyEvent.id).in_([r.event_id for r in rows])))
    }
    attempts: dict[int, list[WebhookAttempt]] = {}
    for attempt in session.exec(
        select(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(ids)).order_by(col(WebhookAttempt.id))
    ):
        attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [DeliveryOut.from_model(r, events[r.event_id], attempts.get(r.id or 0, [])) for r in rows]


def list_deliveries(
    session: Session, principal: Principal, webhook_id: int, page: PageRequest
) -> tuple[list[DeliveryOut], PageResult[WebhookDelivery]]:
    """An endpoint's deliveries, newest first, each with its attempts (three statements whatever the page)."""
    _load(session, principal, webhook_id)
    statement = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    result = paginate(session, statement, [SortKey(WebhookDelivery.id, descending=True)], page)  # type: ignore[arg-type]
    return _deliveries_out(session, list(result.items)), result


def resend_delivery(session: Session, principal: Principal, webhook_id: int, delivery_id: int) -> DeliveryOut:
    """Send a delivery again (whatever its status), with the same webhook-id, and a fresh retry window."""
    endpoint = _load(session, principal, webhook_id)
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.webhook_id != webhook_id:
        raise NotFound(f"No delivery {delivery_id} of webhook {webhook_id}.")
    if not endpoint.is_active:
        raise InvalidInput(
            f"Webhook {webhook_id} is disabled ({endpoint.disabled_reason or 'by its owner'}): enable it first "
            '(PATCH {"enabled": true}).'
        )
    row.status = DeliveryStatus.pending
    row.next_attempt_at = utcnow()
    row.first_attempt_at = None
    row.locked_until = None
    session.add(row)
    session.flush()
    record(session, principal, "webhook.resend", KIND, webhook_id, {"delivery_id": delivery_id})
    return _deliveries_out(session, [row])[0]


# ------------------------------------------------------------------------------------------------- feed


def _person(principal: Principal) -> int:
    if principal.user_id is None:
        raise Forbidden("The notification feed is a person's: a machine client has none (use webhooks).")
    return principal.user_id


def _unread(session: Session, user_id: int) -> int:
    return int(
        session.exec(
            select(sa.func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, col(Notification.read_at).is_(None))
        ).one()
    )


def list_notifications(
    session: Session, principal: Principal, page: PageRequest, unread_only: bool = False
) -> tuple[PageResult[Notification], list[NotificationOut], int]:
    """The caller's feed, newest first: the page, its entries, and the unread count (three statements)."""
    user_id = _person(principal)
    statement = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        statement = statement.where(col(Notification.read_at).is_(None))
    result = paginate(session, statement, [SortKey(Notification.id, descending=True)], page)  # type: ignore[arg-type]
    rows: list[Notification] = list(result.items)
    wanted = [r.event_id for r in rows]
    events = {e.id: e for e in session.exec(select(NotifyEvent).where(col(NotifyEvent.id).in_(wanted)))}
    items = [NotificationOut.from_rows(r.id or 0, r.read_at, events[r.event_id]) for r in rows]
    return result, items, _unread(session, user_id)


def feed_page(session: Session, principal: Principal, page: PageRequest, unread_only: bool = False) -> NotificationPage:
    result, items, unread = list_notifications(session, principal, page, unread_only)
    return NotificationPage(items=items, total=result.total, next_cursor=result.next_cursor, unread_count=unread)


def mark_read(session: Session, principal: Principal, data: MarkReadIn) -> MarkedReadOut:
    user_id = _person(principal)
    if not data.all and not data.ids:
        raise InvalidInput(
            "Invalid request: body. Name the entries (ids) or mark them all (all: true).",
            errors=[{"field": "body.ids", "message": "ids or all is required", "type": "missing"}],
        )
    statement = sa.update(Notification).where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
    if not data.all:
        wanted = sorted(set(data.ids or []))
        yours = set(
            session.exec(
                select(Notification.id).where(Notification.user_id == user_id, col(Notification.id).in_(wanted))
            ).all()
        )
        if len(yours) < len(wanted):  # someone else's entries are not yours to see (404, as everywhere)
            raise NotFound(f"No notifications {[i for i in wanted if i not in yours]} in your feed.")
        statement = statement.where(col(Notification.id).in_(wanted))
    marked = session.execute(statement.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return MarkedReadOut(marked=int(marked.rowcount or 0), unread_count=_unread(session, user_id))  # type: ignore[attr-defined]


def envelope_schema() -> dict[str, Any]:
    return EventEnvelope.model_json_schema()
