"""Self-service onboarding and account management: the logic both faces call (never commits).

Vendor sign-up (docs/architecture.md, "Onboarding"): the account is created with `email_verified` false and
cannot sign in until the mailed token is sent back; the vendor is created unverified and `self_registered`,
and may keep drafts but not submit listings for review until an admin verifies it. The answer to a sign-up is
the same whether or not the email has an account (the mail differs: "you already have an account").

Users and memberships are managed by admins (`permissions.can_manage_identity`): the model has no
organisation-admin role, so nobody else manages an organisation's members (hub curators invite, through
app/notifications' invitations).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter
from sqlmodel import Session, col, select

from app.accounts.models import EmailVerification
from app.accounts.schemas import (
    EmailVerifiedOut,
    EmailVerifyIn,
    MembershipCreateIn,
    MembershipOut,
    SignupAcceptedOut,
    SignupIn,
    UserOut,
)
from app.audit.service import record
from app.auth import permissions
from app.auth.principal import KIND_ROLE, ROLE_KIND, Principal
from app.auth.ratelimit import hit_all, make_storage, per_settings
from app.core.concurrency import lock_for_write
from app.core.config import Settings
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.identity.models import Membership, OAuthToken, Organisation, OrganisationKind, Role, User
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
from app.notifications.mail import enqueue, render
from app.vendors import service as vendors

USER = "user"
MEMBERSHIP = "membership"
SIGNUP_ACCEPTED = (
    "Check your inbox: a message to this address tells you how to go on (a verification token for a new "
    "account; if the address has an account already, the message says so)."
)


def _actor(user: User) -> Principal:
    return Principal(subject=f"user:{user.id}", user_id=user.id)


def _field_error(field: str, message: str, kind: str, detail: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid request: {field}. {detail}", errors=[{"field": field, "message": message, "type": kind}]
    )


# ------------------------------------------------------------------------------------------------- sign-up


def signup_payload(body: SignupIn) -> dict[str, Any]:
    """What an idempotency key's record is checked against: the body without the password (a fast hash of it
    would be kept otherwise); a retry with another password replays the first answer."""
    return body.model_dump(exclude={"password"})


def sign_up(session: Session, settings: Settings, data: SignupIn) -> SignupAcceptedOut:
    """Create the account (unverified email), the vendor (unverified, self-registered), the membership, and
    mail a verification token; for an email that has an account, mail it that it has (and create nothing)."""
    lock_for_write(session)
    _serialise_signups(session)
    email = normalise_email(data.email)
    if not EMAIL_PATTERN.match(email):
        raise _field_error("body.email", "not an email address", "invalid_email", f"{email!r} is not an email address.")
    if len(data.password) < MIN_PASSWORD_LENGTH:
        raise _field_error(
            "body.password", "too short", "string_too_short", f"Use at least {MIN_PASSWORD_LENGTH} characters."
        )
    # Checked whether or not the email has an account, so that the answer never depends on it.
    vendors.check_vendor_country(session, data.country, field="body.country")
    vendors.check_vendor_name_free(session, data.vendor_name)
    base_url = settings.public_base_url.rstrip("/")
    existing = get_user_by_email(session, email)
    if existing is None:
        user = create_user(session, email=email, name=data.name, password=data.password)
        user.email_verified = False
        session.add(user)
        actor = _actor(user)
        vendor = vendors.register_own_vendor(
            session, actor, name=data.vendor_name, country_code=data.country, size=data.size, website=data.website
        )
        organisation = session.exec(select(Organisation).where(Organisation.vendor_id == vendor.id)).one()
        add_membership(session, user, organisation, Role.vendor_member)
        record(session, actor, "user.signup", USER, user.id or 0, {"email": email, "vendor_id": vendor.id})
        _mail_verification(session, settings, user, vendor.name)
    elif not existing.email_verified:
        hash_password(data.password)  # the same work as a new account's, so that timing tells nothing either
        vendor_names = [o.name for o in _vendor_organisations(session, existing.id or 0)]
        _mail_verification(session, settings, existing, ", ".join(vendor_names) or data.vendor_name)
    else:
        hash_password(data.password)
        enqueue(session, existing.email, render("signup_exists", name=existing.name, base_url=base_url), "signup")
    session.flush()
    return SignupAcceptedOut(detail=SIGNUP_ACCEPTED)


def _serialise_signups(session: Session) -> None:
    """Sign-ups take turns, so that two at once with the same email or vendor name meet the first one's rows
    (the same 202, or a 409) instead of a unique-constraint error. PostgreSQL: a transaction-level advisory
    lock (sign-ups are few and rate-limited); SQLite: `lock_for_write` made this the one writer already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _SIGNUP_LOCK})


_SIGNUP_LOCK = int.from_bytes(hashlib.sha256(b"citymarket sign-up").digest()[:8], "big", signed=True)


def _vendor_organisations(session: Session, user_id: int) -> Sequence[Organisation]:
    return session.exec(
        select(Organisation)
        .join(Membership, col(Membership.organisation_id) == Organisation.id)
        .where(col(Membership.user_id) == user_id, col(Organisation.kind) == OrganisationKind.vendor)
        .order_by(col(Organisation.id))
    ).all()


def _mail_verification(session: Session, settings: Settings, user: User, vendor: str) -> None:
    token = "evt_" + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=settings.email_verification_ttl_seconds)
    session.add(EmailVerification(user_id=user.id or 0, token_hash=sha256_hex(token), expires_at=expires))
    rendered = render(
        "verify",
        name=user.name,
        vendor=vendor,
        token=token,
        expires=expires.strftime("%Y-%m-%d %H:%M"),
        base_url=settings.public_base_url.rstrip("/"),
    )
    enqueue(session, user.email, rendered, "email-verification")


def verify_email(session: Session, data: EmailVerifyIn) -> EmailVerifiedOut:
    """Spend an unused, unexpired verification token: the account may sign in from now on."""
    now = utcnow()
    row = session.exec(select(EmailVerification).where(EmailVerification.token_hash == sha256_hex(data.token))).first()
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or row.used_at is not None or row.expires_at <= now or user is None:
        raise _field_error(
            "body.token",
            "unknown, used or expired",
            "invalid_token",
            "The verification token is unknown, used or expired: sign up again to get a new one.",
        )
    claimed = session.execute(
        sa.update(EmailVerification)
        .where(col(EmailVerification.user_id) == user.id, col(EmailVerification.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise InvalidInput("Invalid request: body.token. The verification token was just used.")
    user.email_verified = True
    user.updated_at = now
    session.add(user)
    session.flush()
    record(session, _actor(user), "user.email_verify", USER, user.id or 0, {"email": user.email})
    return EmailVerifiedOut(
        user_id=user.id or 0,
        email=user.email,
        vendor_ids=[o.vendor_id for o in _vendor_organisations(session, user.id or 0) if o.vendor_id is not None],
    )


class OnboardingLimiter:
    """Sign-ups per email and per client address, and verification attempts per address, in moving windows
    (every request counts, whether the email has an account or not, so the limit tells nothing). Counters are
    the sign-in limiter's storage (memory in embedded mode, Redis when CITYMARKET_REDIS_URL is set)."""

    def __init__(self, settings: Settings) -> None:
        self.limiter = MovingWindowRateLimiter(make_storage(settings, f"{settings.rate_limit_key_prefix}:signup"))
        self.per_email = parse(settings.signup_limit)
        self.per_address = parse(settings.signup_limit_per_address)
        self.verify_per_address = parse(settings.email_verification_limit_per_address)

    def signup(self, email: str, address: str | None) -> None:
        buckets = [(self.per_email, f"email:{normalise_email(email)[:320]}")]
        if address:
            buckets.append((self.per_address, f"address:{address}"))
        self._hit(buckets, "sign-up requests")

    def verification(self, address: str | None) -> None:
        if address:
            self._hit([(self.verify_per_address, f"verify:{address}")], "verification attempts")

    def _hit(self, buckets: list[tuple[RateLimitItem, str]], what: str) -> None:
        hit_all(self.limiter, buckets, what)


def limiter(settings: Settings) -> OnboardingLimiter:
    """One limiter per settings object (an app), shared by both faces."""
    return per_settings("onboarding", settings, OnboardingLimiter)


# ------------------------------------------------------------------------------------- users (admins)


def _require_admin(principal: Principal) -> None:
    permissions.require(
        permissions.can_manage_identity(principal), "Only platform admins manage users and memberships."
    )


def _memberships(session: Session, user_ids: Sequence[int]) -> dict[int, list[MembershipOut]]:
    rows = session.execute(
        sa.select(Membership, Organisation)
        .join(Organisation, col(Organisation.id) == Membership.organisation_id)
        .where(col(Membership.user_id).in_(set(user_ids)))
        .order_by(col(Membership.id))
    ).all()
    out: dict[int, list[MembershipOut]] = {}
    for membership, organisation in rows:
        out.setdefault(membership.user_id, []).append(_membership_out(membership, organisation))
    return out


def _membership_out(membership: Membership, organisation: Organisation) -> MembershipOut:
    return MembershipOut(
        id=membership.id or 0,
        user_id=membership.user_id,
        organisation_id=organisation.id or 0,
        organisation_name=organisation.name,
        organisation_kind=organisation.kind,
        target_id=organisation.city_id or organisation.vendor_id or organisation.hub_id,
        role=membership.role,
        created_at=membership.created_at,
    )


def _user_out(user: User, memberships: list[MembershipOut]) -> UserOut:
    return UserOut(
        id=user.id or 0,
        email=user.email,
        name=user.name,
        is_active=user.is_active,
        email_verified=user.email_verified,
        has_password=user.password_hash is not None,
        is_demo=user.is_demo,
        created_at=user.created_at,
        memberships=memberships,
    )


def list_users(
    session: Session,
    principal: Principal,
    page: PageRequest,
    q: str | None = None,
    active: bool | None = None,
    organisation_id: int | None = None,
) -> PageResult[UserOut]:
    """Users by email, with their memberships (admins): `q` finds a part of the email or the name."""
    _require_admin(principal)
    statement = select(User)
    if q:
        pattern = f"%{q.lower()}%"
        statement = statement.where(
            sa.or_(sa.func.lower(User.email).like(pattern), sa.func.lower(User.name).like(pattern))
        )
    if active is not None:
        statement = statement.where(col(User.is_active) == active)
    if organisation_id is not None:
        statement = statement.where(
            col(User.id).in_(select(Membership.user_id).where(Membership.organisation_id == organisation_id))
        )
    result = paginate(session, statement, [SortKey(User.email), SortKey(User.id)], page)  # type: ignore[arg-type]
    by_user = _memberships(session, [u.id or 0 for u in result.items])
    return replace(result, items=[_user_out(u, by_user.get(u.id or 0, [])) for u in result.items])


def get_user(session: Session, principal: Principal, user_id: int) -> UserOut:
    """One user with their memberships: admins, and the person themselves (others: 404)."""
    user = session.get(User, user_id)
    if user is None or not (permissions.can_manage_identity(principal) or principal.user_id == user_id):
        raise NotFound(f"No user with id {user_id}.")
    return _user_out(user, _memberships(session, [user_id]).get(user_id, []))


def set_active(session: Session, principal: Principal, user_id: int, active: bool, note: str = "") -> UserOut:
    """Deactivate an account (it cannot sign in; its access and refresh tokens are refused from now on), or
    reactivate it (it signs in again; the tokens revoked stay revoked). Admins; never their own account."""
    _require_admin(principal)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    if principal.user_id == user_id and not active:
        raise Conflict("You may not deactivate your own account: another admin must.")
    if user.is_active != active:
        now = utcnow()
        user.is_active = active
        user.updated_at = now
        session.add(user)
        if not active:
            session.execute(
                sa.update(OAuthToken)
                .where(col(OAuthToken.user_id) == user_id)
                .values(
                    access_token_revoked_at=sa.func.coalesce(col(OAuthToken.access_token_revoked_at), now),
                    refresh_token_revoked_at=sa.func.coalesce(col(OAuthToken.refresh_token_revoked_at), now),
                )
                .execution_options(synchronize_session=False)
            )
        changes: dict[str, object] = {"is_active": {"from": not active, "to": active}}
        if note.strip():
            changes["note"] = note.strip()
        record(session, principal, "user.reactivate" if active else "user.deactivate", USER, user_id, changes)
        session.flush()
    return get_user(session, principal, user_id)


def add_user_membership(
    session: Session, principal: Principal, user_id: int, data: MembershipCreateIn
) -> MembershipOut:
    """Give a user a role in an organisation (admins); the role must be the organisation kind's."""
    _require_admin(principal)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    organisation = session.get(Organisation, data.organisation_id)
    if organisation is None:
        raise NotFound(f"No organisation with id {data.organisation_id}.")
    role = data.role or KIND_ROLE[organisation.kind]
    if ROLE_KIND[role] is not organisation.kind:
        raise _field_error(
            "body.role",
            "not a role of this organisation",
            "invalid_role",
            f"The role {role.value} belongs to a {ROLE_KIND[role].value} organisation, not to a "
            f"{organisation.kind.value} ({organisation.name}): its role is {KIND_ROLE[organisation.kind].value}.",
        )
    existing = session.exec(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organisation_id == organisation.id, Membership.role == role
        )
    ).first()
    if existing is not None:
        raise Conflict(
            f"{user.email} is already {role.value} of {organisation.name} (membership {existing.id}).",
            extra={"existing_membership_id": existing.id},
        )
    membership = add_membership(session, user, organisation, role)
    record(
        session,
        principal,
        "membership.create",
        MEMBERSHIP,
        membership.id or 0,
        {"user_id": user_id, "organisation_id": organisation.id, "role": role.value},
    )
    return _membership_out(membership, organisation)


def remove_membership(session: Session, principal: Principal, membership_id: int) -> None:
    """Take a role away (admins). An admin may not remove their own admin role (another admin must)."""
    _require_admin(principal)
    membership = session.get(Membership, membership_id)
    if membership is None:
        raise NotFound(f"No membership with id {membership_id}.")
    if membership.user_id == principal.user_id and membership.role is Role.admin:
        raise Conflict("You may not remove your own admin role: another admin must.")
    changes = {
        "user_id": membership.user_id,
        "organisation_id": membership.organisation_id,
        "role": membership.role.value,
    }
    session.delete(membership)
    session.flush()
    record(session, principal, "membership.delete", MEMBERSHIP, membership_id, changes)
