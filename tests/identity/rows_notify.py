"""Permission-matrix rows for webhooks and the feed. "own" is vendor a's organisation, "other" vendor b's:
its members and admins manage its endpoints; everyone else gets a 404 (not theirs to see) or a 403."""

from __future__ import annotations

from app.core.concurrency import etag
from app.identity.models import OrganisationKind, Role, User
from app.notifications.models import Notification, NotifyEvent, WebhookDelivery, WebhookEndpoint
from app.notifications.service import new_secret
from tests.identity.matrix import Builder, Call, Row, Scenario, Which, ab

VENDOR_OR_ADMIN = frozenset({Role.vendor_member, Role.admin})
EVERY_PERSON = frozenset(Role)
URL = "http://127.0.0.1:8649/hook"


def _organisation(scenario: Scenario, which: Which) -> int:
    return scenario.world.organisation[(OrganisationKind.vendor, ab(which))]


def _endpoint(scenario: Scenario, which: Which) -> WebhookEndpoint:
    with scenario.session() as session:
        row = WebhookEndpoint(
            organisation_id=_organisation(scenario, which), url=URL, events=["*"], secret=new_secret()
        )
        session.add(row)
        session.flush()
        session.refresh(row)
        return row


def _create(scenario: Scenario, which: Which) -> Call:
    body = {"url": URL, "events": ["solution.published"], "organisation_id": _organisation(scenario, which)}
    return Call("/api/v1/webhooks", body)


def _patch(scenario: Scenario, which: Which) -> Call:
    row = _endpoint(scenario, which)
    return Call(f"/api/v1/webhooks/{row.id}", {"description": "matrix"}, {"If-Match": etag("webhook", row.id or 0, 1)})


def _on(suffix: str) -> Builder:
    def build(scenario: Scenario, which: Which) -> Call:
        return Call(f"/api/v1/webhooks/{_endpoint(scenario, which).id}{suffix}")

    return build


def _resend(scenario: Scenario, which: Which) -> Call:
    row = _endpoint(scenario, which)
    with scenario.session() as session:
        event = NotifyEvent(public_id=f"evt_matrix_{which}", type="vendor.verified", organisation_ids=[1])
        session.add(event)
        session.flush()
        delivery = WebhookDelivery(event_id=event.id or 0, webhook_id=row.id or 0, attempts=3)
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    return Call(f"/api/v1/webhooks/{row.id}/deliveries/{delivery_id}/resend")


def _read(scenario: Scenario, which: Which) -> Call:
    if which == "own":
        return Call("/api/v1/me/notifications/read", {"all": True})
    # Someone else's feed entry: nobody may mark it, not even an admin (a feed is a person's own).
    with scenario.session() as session:
        user = User(email="feed-owner@identity.test", name="feed owner")
        event = NotifyEvent(public_id="evt_matrix_feed", type="vendor.verified", organisation_ids=[1])
        session.add(user)
        session.add(event)
        session.flush()
        entry = Notification(user_id=user.id or 0, event_id=event.id or 0)
        session.add(entry)
        session.flush()
        entry_id = entry.id
    return Call("/api/v1/me/notifications/read", {"ids": [entry_id]})


NOTIFY_ROWS: list[Row] = [
    Row("POST", "/api/v1/webhooks", _create, own=VENDOR_OR_ADMIN),
    Row("PATCH", "/api/v1/webhooks/{webhook_id}", _patch, own=VENDOR_OR_ADMIN),
    Row("DELETE", "/api/v1/webhooks/{webhook_id}", _on(""), own=VENDOR_OR_ADMIN),
    Row("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret", _on("/rotate-secret"), own=VENDOR_OR_ADMIN),
    Row(
        "POST",
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
        _resend,
        own=VENDOR_OR_ADMIN,
        success=frozenset({202}),
    ),
    # A person's own feed: every person may mark it read; another's entries are nobody else's to touch.
    Row("POST", "/api/v1/me/notifications/read", _read, own=EVERY_PERSON, other=frozenset()),
]
