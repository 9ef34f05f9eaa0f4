"""Events (the notification outbox), webhook endpoints, their deliveries and attempts, and the feed."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import UTCDateTime, created_at_field, enum_column, updated_at_field, utcnow
from app.identity.models import Role


class NotifyEvent(SQLModel, table=True):
    """One event of the catalogue (app/notifications/catalogue.py), written in the same transaction as the
    change it tells of. The dispatcher fans it out (deliveries to subscribed webhooks, feed entries to the
    recipients' people) and then sets `dispatched_at`, in one transaction: a crash repeats nothing."""

    __tablename__ = "notify_event"
    __table_args__ = (sa.Index("ix_notify_event_pending", "dispatched_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    # Public, stable id: the Standard Webhooks `webhook-id` of every delivery of this event.
    public_id: str = Field(max_length=40, unique=True)
    type: str = Field(max_length=64, index=True)
    version: int = Field(default=1)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # The organisations told (webhooks and feed); never empty for a stored event.
    organisation_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    actor_user_id: int | None = Field(default=None)
    # Set for an event that concerns one person (alert.matched, clarification.answered): only they get the feed
    # entry and the email; the organisations' webhooks still receive it (docs/architecture.md, event outbox).
    recipient_user_id: int | None = Field(default=None)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Publications only: when saved searches were run for the new item (once the search index had it).
    searched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    url: str = Field(max_length=2000)
    # Event types this endpoint receives ("*": every type its organisation is told of).
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    description: str = Field(default="", max_length=500)
    # `whsec_` + base64 of 32 random bytes (the receiver needs it in the clear to verify signatures).
    secret: str = Field(max_length=100)
    is_active: bool = Field(default=True)
    disabled_reason: str = Field(default="", max_length=500)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its (next) attempt
    succeeded = "succeeded"
    failed = "failed"  # gave up after the retry window (the endpoint is then disabled)
    cancelled = "cancelled"  # the endpoint was deleted or disabled before it succeeded


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint, retried until it succeeds or the retry window ends."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "webhook_id"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="notify_event.id", index=True, ondelete="CASCADE")
    webhook_id: int = Field(foreign_key="webhook_endpoint.id", index=True, ondelete="CASCADE")
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending, sa_type=enum_column(DeliveryStatus, "webhook_delivery_status")
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A worker that claimed the delivery holds it until then; a worker killed mid-attempt lets it lapse.
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = Field(default=None)
    last_error: str = Field(default="", max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class WebhookAttempt(SQLModel, table=True):
    """Every attempt, kept for the organisation to see: status, latency, error."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True, ondelete="CASCADE")
    attempted_at: datetime = created_at_field()
    status_code: int | None = Field(default=None)
    latency_ms: float = Field(default=0.0)
    error: str = Field(default="", max_length=500)


class Notification(SQLModel, table=True):
    """A person's feed entry: one event they were told of."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "event_id"),
        sa.Index("ix_notification_unread", "user_id", "read_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    event_id: int = Field(foreign_key="notify_event.id", ondelete="CASCADE")
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class Channel(StrEnum):
    """How a person hears of one event type: by email (and in the feed), in the feed only, or not at all."""

    email = "email"
    feed = "feed"
    off = "off"


DEFAULT_CHANNEL = Channel.feed


class NotificationPreference(SQLModel, table=True):
    """A person's channel for one event type; no row means the default (feed only)."""

    __tablename__ = "notification_preference"
    __table_args__ = (sa.UniqueConstraint("user_id", "event_type"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    event_type: str = Field(max_length=64)
    channel: Channel = Field(sa_type=enum_column(Channel, "notification_channel"))
    updated_at: datetime = updated_at_field()


class MailStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after mail_max_attempts


class OutgoingMail(SQLModel, table=True):
    """A rendered message waiting for the notifications worker (the mail outbox): written in the transaction
    that decided it (an event's dispatch, a password reset request), sent later, never in a request."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (sa.Index("ix_outgoing_mail_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_type=sa.Text)
    html_body: str = Field(sa_type=sa.Text)
    # What it tells of ("event:<public id>", "password-reset"): for logs and tests, never a secret.
    purpose: str = Field(default="", max_length=100)
    status: MailStatus = Field(default=MailStatus.pending, sa_type=enum_column(MailStatus, "outgoing_mail_status"))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=500)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class PasswordResetToken(SQLModel, table=True):
    """A single-use, expiring password reset token; only its SHA-256 is kept (it is 256 random bits)."""

    __tablename__ = "password_reset_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class Invitation(SQLModel, table=True):
    """An invitation of a person (by email) to an organisation with a role: a single-use, expiring token
    mailed to them (only its SHA-256 is kept); accepting creates the account (if none) and the membership."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    role: Role = Field(sa_type=enum_column(Role, "invitation_role"))
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    invited_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()


class NotificationDigest(SQLModel, table=True):
    """A person's daily digest switch and its marker: with `enabled`, the events whose preference is email are
    not mailed one by one but collected into one daily email (`citymarket notify digest`). `sent_up_to` is the
    last feed entry a digest covered and `last_sent_on` the day (UTC) of the last run that covered this person:
    a second run on the same day sends nothing."""

    __tablename__ = "notification_digest"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    enabled: bool = Field(default=False)
    sent_up_to: int = Field(default=0)
    last_sent_on: date | None = Field(default=None)
    updated_at: datetime = updated_at_field()


class AlertTarget(StrEnum):
    """What an alert watches: new published listings or case studies by the listing API's filters, or new
    published documents found by a saved search (GET /api/v1/search)."""

    solutions = "solutions"
    case_studies = "case_studies"
    search = "search"  # a saved search: query text and the search API's filters, on one type of document


class Alert(SQLModel, table=True):
    """A person's saved filter (the filters of GET /api/v1/solutions or GET /api/v1/case-studies, by name):
    when a new item matching it is published, the notifier raises `alert.matched` to its owner."""

    __tablename__ = "alert"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    target: AlertTarget = Field(sa_type=enum_column(AlertTarget, "alert_target"))
    filters: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    version: int = Field(default=1)
    matched_count: int = Field(default=0)
    last_matched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class LeadCheck(SQLModel, table=True):
    """A city whose KPI values changed, waiting for the notifier to look for new leads in it (written by the
    outbox hook in the transaction of the change: the request never computes a match)."""

    __tablename__ = "lead_check"

    id: int | None = Field(default=None, primary_key=True)
    city_id: int = Field(index=True)
    created_at: datetime = created_at_field()
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class LeadNotice(SQLModel, table=True):
    """A (listing, city) lead its vendor was told of: told once, so a lead is "new" only the first time it
    ranks above the threshold."""

    __tablename__ = "lead_notice"
    __table_args__ = (sa.UniqueConstraint("solution_id", "city_id"),)

    id: int | None = Field(default=None, primary_key=True)
    solution_id: int = Field(foreign_key="solution.id", index=True, ondelete="CASCADE")
    city_id: int = Field(foreign_key="city.id", ondelete="CASCADE")
    score: float
    created_at: datetime = created_at_field()
