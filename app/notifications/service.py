"""Webhook endpoints, their deliveries, and each person's feed: the logic both faces call (never commits)."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from limits import parse
from limits.strategies import MovingWindowRateLimiter
from sqlmodel import Session, col, select

from app.audit.service import record
from app.auth import permissions
from app.auth.principal import KIND_ROLE, ROLE_KIND, Principal
from app.auth.ratelimit import hit_all, make_storage, per_settings
from app.cities.models import City
from app.core.concurrency import ExpectedVersion, claim_version
from app.core.config import Settings
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.hubs.models import HubCountry
from app.identity.models import OAuthToken, Organisation, OrganisationKind, Role, User
from app.identity.service import (
    EMAIL_PATTERN,
    MIN_PASSWORD_LENGTH,
    add_membership,
    create_user,
    get_user_by_email,
    hash_password,
    normalise_email,
    sha256_hex,
)
from app.notifications.catalogue import CATALOGUE, EventEnvelope
from app.notifications.delivery import check_target
from app.notifications.mail import enqueue, render
from app.notifications.models import (
    DEFAULT_CHANNEL,
    DeliveryStatus,
    Invitation,
    Notification,
    NotificationDigest,
    NotificationPreference,
    NotifyEvent,
    PasswordResetToken,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.notifications.schemas import (
    AcceptedInvitationOut,
    AcceptedOut,
    DeliveryOut,
    InvitationAcceptIn,
    InvitationIn,
    InvitationOut,
    MarkedReadOut,
    MarkReadIn,
    NotificationOut,
    NotificationPage,
    PasswordResetConfirmIn,
    PasswordResetIn,
    PreferenceOut,
    PreferencesIn,
    PreferencesOut,
    WebhookCreateIn,
    WebhookOut,
    WebhookUpdateIn,
    WebhookWithSecretOut,
)
from app.notifications.ssrf import UnsafeUrl
from app.vendors.models import Vendor

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


# ------------------------------------------------------------------------------------ email preferences


def get_preferences(session: Session, principal: Principal) -> PreferencesOut:
    """The caller's channel for every event type of the catalogue (default: feed only)."""
    user_id = _person(principal)
    chosen = {
        p.event_type: p.channel
        for p in session.exec(select(NotificationPreference).where(NotificationPreference.user_id == user_id))
    }
    digest = session.get(NotificationDigest, user_id)
    return PreferencesOut(
        preferences=[
            PreferenceOut(event_type=name, channel=chosen.get(name, DEFAULT_CHANNEL), is_default=name not in chosen)
            for name in CATALOGUE
        ],
        digest=digest is not None and digest.enabled,
    )


def set_preferences(session: Session, principal: Principal, data: PreferencesIn) -> PreferencesOut:
    """Set the channels named (the last wins for a type named twice); the others keep theirs."""
    user_id = _person(principal)
    wanted = {p.event_type: p.channel for p in data.preferences}
    existing = {
        p.event_type: p
        for p in session.exec(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user_id, col(NotificationPreference.event_type).in_(sorted(wanted))
            )
        )
    }
    changes: dict[str, Any] = {}
    for event_type, channel in sorted(wanted.items()):
        row = existing.get(event_type)
        if row is None:
            session.add(NotificationPreference(user_id=user_id, event_type=event_type, channel=channel))
        elif row.channel is not channel:
            row.channel = channel
            row.updated_at = utcnow()
            session.add(row)
        else:
            continue
        changes[event_type] = channel.value
    if data.digest is not None:
        digest = session.get(NotificationDigest, user_id) or NotificationDigest(user_id=user_id, enabled=False)
        if digest.enabled != data.digest:
            if data.digest:  # the marker starts now: a digest never covers what was mailed one by one before
                latest = session.exec(select(sa.func.max(Notification.id)).where(Notification.user_id == user_id))
                digest.sent_up_to = int(latest.one() or 0)
            digest.enabled = data.digest
            digest.updated_at = utcnow()
            session.add(digest)
            changes["digest"] = data.digest
    session.flush()
    if changes:
        record(session, principal, "notification_preference.update", "user", user_id, changes)
    return get_preferences(session, principal)


# --------------------------------------------------------------------------------------- password reset

RESET_ACCEPTED = "If an active account has this email, a reset token is on its way to it."


def request_password_reset(session: Session, settings: Settings, data: PasswordResetIn) -> AcceptedOut:
    """Mail a single-use token to the account with this email, if there is an active one with a password
    (or none: the answer is the same, so that nobody learns who has an account). Only its SHA-256 is kept."""
    user = get_user_by_email(session, normalise_email(data.email))
    if user is not None and user.is_active and user.id is not None and user.password_hash is not None:
        token = "rst_" + secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(seconds=settings.password_reset_ttl_seconds)
        session.add(PasswordResetToken(user_id=user.id, token_hash=sha256_hex(token), expires_at=expires))
        rendered = render(
            "reset",
            name=user.name,
            token=token,
            expires=expires.strftime("%Y-%m-%d %H:%M"),
            base_url=settings.public_base_url.rstrip("/"),
        )
        enqueue(session, user.email, rendered, "password-reset")
        session.flush()
    return AcceptedOut(detail=RESET_ACCEPTED)


def confirm_password_reset(session: Session, data: PasswordResetConfirmIn) -> None:
    """Set the new password with an unused, unexpired token; the token, any other of the account's tokens,
    and every session (access and refresh tokens) of the account stop working."""
    if len(data.new_password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Invalid request: body.new_password. Use at least {MIN_PASSWORD_LENGTH} characters.",
            errors=[{"field": "body.new_password", "message": "too short", "type": "string_too_short"}],
        )
    now = utcnow()
    row = session.exec(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == sha256_hex(data.token))
    ).first()
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or row.used_at is not None or row.expires_at <= now or user is None or not user.is_active:
        raise InvalidInput(
            "Invalid request: body.token. The reset token is unknown, used or expired: ask for a new one.",
            errors=[{"field": "body.token", "message": "unknown, used or expired", "type": "invalid_token"}],
        )
    # Claim the token in one statement: of two concurrent confirmations only one changes the row.
    claimed = session.execute(
        sa.update(PasswordResetToken)
        .where(col(PasswordResetToken.id) == row.id, col(PasswordResetToken.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise InvalidInput("Invalid request: body.token. The reset token was just used.")
    session.execute(
        sa.update(PasswordResetToken)
        .where(col(PasswordResetToken.user_id) == user.id, col(PasswordResetToken.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.update(OAuthToken)
        .where(col(OAuthToken.user_id) == user.id)
        .values(
            access_token_revoked_at=sa.func.coalesce(col(OAuthToken.access_token_revoked_at), now),
            refresh_token_revoked_at=sa.func.coalesce(col(OAuthToken.refresh_token_revoked_at), now),
        )
        .execution_options(synchronize_session=False)
    )
    user.password_hash = hash_password(data.new_password)
    user.email_verified = True  # the token came by email: the address is the account holder's
    user.updated_at = now
    session.add(user)
    session.flush()
    actor = Principal(subject=f"user:{user.id}", user_id=user.id)  # the token's holder acted for the account
    record(session, actor, "user.password_reset", "user", user.id or 0, {"by": "reset token"})


class ResetLimiter:
    """Password reset requests per email (from anywhere) and per client address, in moving windows: every
    request counts, whether an account has the email or not, so the limit tells nothing about accounts.
    Counters are the sign-in limiter's (memory in embedded mode, Redis when CITYMARKET_REDIS_URL is set)."""

    def __init__(self, settings: Settings) -> None:
        self.storage = make_storage(settings, f"{settings.rate_limit_key_prefix}:reset")
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_email = parse(settings.password_reset_limit)
        self.per_address = parse(settings.password_reset_limit_per_address)

    def hit(self, email: str, address: str | None) -> None:
        buckets = [(self.per_email, f"email:{normalise_email(email)[:320]}")]
        if address:
            buckets.append((self.per_address, f"address:{address}"))
        hit_all(self.limiter, buckets, "password reset requests")


def reset_limiter(settings: Settings) -> ResetLimiter:
    """One limiter per settings object (an app), shared by both faces."""
    return per_settings("password-reset", settings, ResetLimiter)


# ------------------------------------------------------------------------------------------ invitations


def invite(session: Session, principal: Principal, settings: Settings, data: InvitationIn) -> InvitationOut:
    """Invite a person (by email) to an organisation with a role: admins, and hub curators for the cities and
    vendors of their hubs' countries (`permissions.can_invite`). The mail, with a single-use token, is queued
    in this transaction and sent by the worker."""
    if not permissions.can_invite(principal, ()) and not principal.target_ids(OrganisationKind.hub, Role.hub_curator):
        raise Forbidden("Only admins and hub curators may invite people.")
    organisation = session.get(Organisation, data.organisation_id)
    if organisation is None:
        raise NotFound(f"No organisation with id {data.organisation_id}.")
    country = _organisation_country(session, organisation)
    permissions.require(
        permissions.can_invite(principal, _hubs_serving(session, country)),
        "Hub curators may invite people only to the cities and vendors of their hubs' countries "
        f"({organisation.name} is {'in ' + country if country else 'not a city or a vendor'}); admins anywhere.",
    )
    role = data.role or KIND_ROLE[organisation.kind]
    if ROLE_KIND[role] is not organisation.kind:
        raise InvalidInput(
            f"Invalid request: body.role. The role {role.value} belongs to a {ROLE_KIND[role].value} "
            f"organisation, not to a {organisation.kind.value} ({organisation.name}).",
            errors=[{"field": "body.role", "message": "not a role of this organisation", "type": "invalid_role"}],
        )
    email = normalise_email(data.email)
    if not EMAIL_PATTERN.match(email):
        raise InvalidInput(
            f"Invalid request: body.email. {email!r} is not an email address.",
            errors=[{"field": "body.email", "message": "not an email address", "type": "invalid_email"}],
        )
    token = "inv_" + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=settings.invitation_ttl_seconds)
    row = Invitation(
        email=email,
        organisation_id=organisation.id or 0,
        role=role,
        token_hash=sha256_hex(token),
        expires_at=expires,
        invited_by_user_id=principal.user_id,
    )
    session.add(row)
    session.flush()
    inviter = session.get(User, principal.user_id) if principal.user_id else None
    rendered = render(
        "invite",
        inviter=(inviter.name or inviter.email) if inviter else "The citymarket team",
        organisation=organisation.name,
        role=role.value.replace("_", " "),
        token=token,
        expires=expires.strftime("%Y-%m-%d %H:%M"),
        base_url=settings.public_base_url.rstrip("/"),
    )
    enqueue(session, email, rendered, "invitation")
    record(session, principal, "invitation.create", "invitation", row.id or 0, {"email": email, "role": role.value})
    return InvitationOut(
        id=row.id or 0, email=email, organisation_id=row.organisation_id, role=role, expires_at=row.expires_at
    )


def _organisation_country(session: Session, organisation: Organisation) -> str | None:
    """The country a city is in or a vendor is based in; None for other organisations."""
    if organisation.city_id is not None:
        return session.exec(select(City.country_code).where(City.id == organisation.city_id)).first()
    if organisation.vendor_id is not None:
        return session.exec(select(Vendor.country_code).where(Vendor.id == organisation.vendor_id)).first()
    return None


def _hubs_serving(session: Session, country: str | None) -> list[int]:
    if country is None:
        return []
    return list(session.exec(select(HubCountry.hub_id).where(HubCountry.country_code == country)).all())


def accept_invitation(session: Session, data: InvitationAcceptIn) -> AcceptedInvitationOut:
    """Spend an unused, unexpired invitation: the account with its email (created, with the password given,
    if there is none) gets the membership."""
    now = utcnow()
    row = session.exec(select(Invitation).where(Invitation.token_hash == sha256_hex(data.token))).first()
    if row is None or row.accepted_at is not None or row.expires_at <= now:
        raise InvalidInput(
            "Invalid request: body.token. The invitation is unknown, used or expired: ask for a new one.",
            errors=[{"field": "body.token", "message": "unknown, used or expired", "type": "invalid_token"}],
        )
    claimed = session.execute(
        sa.update(Invitation)
        .where(col(Invitation.id) == row.id, col(Invitation.accepted_at).is_(None))
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise InvalidInput("Invalid request: body.token. The invitation was just used.")
    user = get_user_by_email(session, row.email)
    created = user is None
    if user is None:
        if data.password is None:
            raise InvalidInput(
                "Invalid request: body.password. A new account needs a password.",
                errors=[{"field": "body.password", "message": "required for a new account", "type": "missing"}],
            )
        user = create_user(session, email=row.email, name=data.name, password=data.password)
    elif not user.is_active:
        raise InvalidInput("Invalid request: body.token. The invited account is disabled.")
    elif not user.email_verified:
        user.email_verified = True  # the token came by email: the address is the account holder's
        session.add(user)
    organisation = session.get(Organisation, row.organisation_id)
    if organisation is None:
        raise NotFound("The organisation of this invitation no longer exists.")
    add_membership(session, user, organisation, row.role)
    session.execute(
        sa.update(Invitation)
        .where(col(Invitation.id) == row.id)
        .values(accepted_user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    actor = Principal(subject=f"user:{user.id}", user_id=user.id)
    record(
        session,
        actor,
        "invitation.accept",
        "invitation",
        row.id or 0,
        {"user_id": user.id, "organisation_id": row.organisation_id, "role": row.role.value, "created": created},
    )
    return AcceptedInvitationOut(
        user_id=user.id or 0, organisation_id=row.organisation_id, role=row.role, created_account=created
    )
