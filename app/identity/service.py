"""People, organisations, memberships and OAuth clients: the operations behind the CLI, the login page and
the seeds. Services never commit; the caller (command, request) does.

Passwords are hashed with Argon2id (pwdlib). Client secrets are 256-bit random strings, stored as their
SHA-256: a password hash's work factor exists to slow the guessing of low-entropy secrets, and there is
nothing to guess in 2^256, while an Argon2 hash on every token request would be a CPU cost (and a
denial-of-service lever) for no gain.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import sqlalchemy as sa
from pwdlib import PasswordHash
from sqlmodel import Session, col, select

from app.auth.principal import ALL_SCOPES, KIND_ROLE, ROLE_KIND, ROLE_SCOPES
from app.cities.models import City
from app.core.errors import Conflict, InvalidInput, NotFound
from app.hubs.models import Hub
from app.identity.models import Membership, OAuthClient, Organisation, OrganisationKind, Role, User
from app.vendors.models import Vendor

PROGRAMME_NAME = "Twin-city programme"
PLATFORM_NAME = "citymarket platform"
MIN_PASSWORD_LENGTH = 12

GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"  # noqa: S105  (a grant type's name, not a secret)

_password_hash = PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so that a miss costs as much as a wrong password."""
    return _password_hash.hash(secrets.token_urlsafe(16))


_EMAIL = EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


# ------------------------------------------------------------------------------------------- organisations

_TARGETS: dict[OrganisationKind, tuple[type[City] | type[Vendor] | type[Hub], str]] = {
    OrganisationKind.city: (City, "city_id"),
    OrganisationKind.vendor: (Vendor, "vendor_id"),
    OrganisationKind.hub: (Hub, "hub_id"),
}


def ensure_organisation(session: Session, kind: OrganisationKind, target_id: int | None = None) -> Organisation:
    """The organisation of a city, vendor or hub (`target_id` is its id), or the programme or the platform
    (no target): found, or created. Idempotent."""
    if kind in _TARGETS:
        if target_id is None:
            raise InvalidInput(f"A {kind.value} organisation needs the {kind.value}'s id.")
        model, column = _TARGETS[kind]
        existing = session.exec(select(Organisation).where(getattr(Organisation, column) == target_id)).first()
        if existing is not None:
            return existing
        target = session.get(model, target_id)
        if target is None:
            raise NotFound(f"There is no {kind.value} with id {target_id}.")
        organisation = Organisation(kind=kind, name=str(getattr(target, "name", "")))
        setattr(organisation, column, target_id)
    else:
        if target_id is not None:
            raise InvalidInput(f"The {kind.value} organisation has no target id.")
        existing = session.exec(
            select(Organisation).where(Organisation.kind == kind).order_by(col(Organisation.id))
        ).first()
        if existing is not None:
            return existing
        name = PROGRAMME_NAME if kind is OrganisationKind.programme else PLATFORM_NAME
        organisation = Organisation(kind=kind, name=name)
    session.add(organisation)
    session.flush()
    return organisation


def ensure_all_organisations(session: Session) -> int:
    """An organisation for every city, vendor and hub, plus the programme and the platform. Returns how many
    were created (0 on a second run)."""
    created = 0
    for kind, (model, column) in _TARGETS.items():
        reference = col(getattr(Organisation, column))
        target_pk = col(model.id)
        missing = session.execute(
            sa.select(target_pk, col(model.name))
            .where(target_pk.not_in(sa.select(reference).where(reference.is_not(None))))
            .order_by(target_pk)
        ).all()
        for target_id, name in missing:
            organisation = Organisation(kind=kind, name=name)
            setattr(organisation, column, target_id)
            session.add(organisation)
            created += 1
    session.flush()
    for kind in (OrganisationKind.programme, OrganisationKind.platform):
        exists = session.exec(select(Organisation.id).where(Organisation.kind == kind)).first()
        if exists is None:
            ensure_organisation(session, kind)
            created += 1
    return created


def organisation_target_id(organisation: Organisation) -> int | None:
    return organisation.city_id or organisation.vendor_id or organisation.hub_id


# ---------------------------------------------------------------------------------------------------- users


def create_user(session: Session, *, email: str, name: str, password: str | None, is_demo: bool = False) -> User:
    email = normalise_email(email)
    if not _EMAIL.match(email) or len(email) > 320:
        raise InvalidInput(f"{email!r} is not an email address.")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters.")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict(f"A user with the email {email} already exists.")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password) if password is not None else None,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def authenticate_user(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Upgrades the hash when its parameters aged."""
    user = get_user_by_email(session, email)
    if user is None or user.password_hash is None or not user.is_active:
        _password_hash.verify(password, _dummy_hash())
        return None
    valid, new_hash = _password_hash.verify_and_update(password, user.password_hash)
    if not valid:
        return None
    if new_hash is not None:
        user.password_hash = new_hash
        session.add(user)
    return user


def add_membership(session: Session, user: User, organisation: Organisation, role: Role) -> Membership:
    """Give `user` a role in `organisation` (idempotent). The role must belong to the organisation's kind:
    a vendor member of a vendor, an admin of the platform, ..."""
    if ROLE_KIND[role] is not organisation.kind:
        raise InvalidInput(
            f"The role {role.value} belongs to a {ROLE_KIND[role].value} organisation, "
            f"not to a {organisation.kind.value} ({organisation.name})."
        )
    assert user.id is not None
    assert organisation.id is not None
    existing = session.exec(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == organisation.id, Membership.role == role
        )
    ).first()
    if existing is not None:
        return existing
    membership = Membership(user_id=user.id, organisation_id=organisation.id, role=role)
    session.add(membership)
    session.flush()
    return membership


@dataclass(frozen=True)
class UserRow:
    user: User
    memberships: list[tuple[Role, Organisation]]


def list_users(session: Session) -> list[UserRow]:
    users = session.exec(select(User).order_by(col(User.email))).all()
    rows = session.execute(
        sa.select(col(Membership.user_id), col(Membership.role), Organisation)
        .join(Organisation, col(Organisation.id) == Membership.organisation_id)
        .order_by(col(Membership.id))
    ).all()
    by_user: dict[int, list[tuple[Role, Organisation]]] = {}
    for user_id, role, organisation in rows:
        by_user.setdefault(user_id, []).append((role, organisation))
    return [UserRow(user=u, memberships=by_user.get(u.id or 0, [])) for u in users]


# -------------------------------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class NewClient:
    client: OAuthClient
    secret: str | None  # shown once; only its hash is stored


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    result: list[str] = []
    for item in scopes:
        for scope in item.replace(",", " ").split():
            if scope not in ALL_SCOPES:
                raise InvalidInput(f"Unknown scope {scope!r}; known scopes: {', '.join(sorted(ALL_SCOPES))}.")
            if scope not in result:
                result.append(scope)
    return result


def _check_redirect_uri(uri: str) -> None:
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.fragment or not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise InvalidInput(
            f"Redirect URI {uri!r} must be an absolute https URL (or http on a loopback address), without fragment."
        )


def create_client(
    session: Session,
    *,
    name: str,
    organisation: Organisation | None,
    scopes: Sequence[str] = (),
    public: bool = False,
    redirect_uris: Sequence[str] = (),
    client_id: str | None = None,
    is_demo: bool = False,
) -> NewClient:
    """A machine client of `organisation` (client credentials; with redirect URIs, also the authorization
    code flow for its people), or a public client for people (authorization code + PKCE, no secret).

    Scopes default to, and may not exceed, the scopes of the role the organisation's kind carries.
    """
    requested = parse_scopes(scopes)
    for uri in redirect_uris:
        _check_redirect_uri(uri)
    if public:
        if not redirect_uris:
            raise InvalidInput("A public client needs at least one redirect URI (--redirect-uri).")
        allowed = sorted(ALL_SCOPES)
        grant_types = [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN]
    else:
        if organisation is None:
            raise InvalidInput(
                "A confidential client acts for an organisation: give --city, --vendor, --hub, --programme or --admin."
            )
        allowed = sorted(ROLE_SCOPES[KIND_ROLE[organisation.kind]])
        grant_types = [GRANT_CLIENT_CREDENTIALS]
        if redirect_uris:
            grant_types += [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN]
    beyond = [s for s in requested if s not in allowed]
    if beyond:
        raise InvalidInput(f"Scopes {', '.join(beyond)} are beyond what this client may hold ({', '.join(allowed)}).")
    client_id = client_id or f"cm_{secrets.token_urlsafe(12)}"
    if session.exec(select(OAuthClient.id).where(OAuthClient.client_id == client_id)).first() is not None:
        raise Conflict(f"A client with the id {client_id} already exists.")
    secret = None if public else secrets.token_urlsafe(32)
    client = OAuthClient(
        client_id=client_id,
        client_secret_hash=sha256_hex(secret) if secret is not None else None,
        name=name.strip(),
        organisation_id=organisation.id if organisation is not None and not public else None,
        scope=" ".join(requested or allowed),
        grant_types=" ".join(grant_types),
        redirect_uris=list(redirect_uris),
        is_demo=is_demo,
    )
    session.add(client)
    session.flush()
    return NewClient(client=client, secret=secret)


def list_clients(session: Session) -> list[tuple[OAuthClient, Organisation | None]]:
    rows = session.execute(
        sa.select(OAuthClient, Organisation)
        .outerjoin(Organisation, col(Organisation.id) == OAuthClient.organisation_id)
        .order_by(col(OAuthClient.id))
    ).all()
    return [(client, organisation) for client, organisation in rows]


# ------------------------------------------------------------------------------------ the dashboard's client

DASHBOARD_CLIENT_ID = "citymarket-dashboard"
# What the dashboard asks for: private data, drafts and match runs (private:read), a hub's hidden entries
# (catalogue:write). A person is only ever granted those their roles allow.
DASHBOARD_SCOPES = ("private:read", "catalogue:write")


def dashboard_client_secret(secret_key: str) -> str:
    """The dashboard's client secret, derived from the service's secret key: every worker knows it, nothing
    has to be configured or stored in the clear, and rotating the secret key rotates it."""
    return hashlib.sha256(b"citymarket dashboard client|" + secret_key.encode()).hexdigest()


def ensure_dashboard_client(session: Session, secret_key: str, redirect_uri: str) -> OAuthClient:
    """The dashboard as a confidential client of its own (authorization code with PKCE, refresh tokens),
    for people: created when missing, its secret and redirect URI brought up to date. Idempotent."""
    secret_hash = sha256_hex(dashboard_client_secret(secret_key))
    client = session.exec(select(OAuthClient).where(OAuthClient.client_id == DASHBOARD_CLIENT_ID)).first()
    if client is None:
        client = OAuthClient(
            client_id=DASHBOARD_CLIENT_ID,
            client_secret_hash=secret_hash,
            name="citymarket dashboard",
            organisation_id=None,
            scope=" ".join(DASHBOARD_SCOPES),
            grant_types=" ".join([GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN]),
            redirect_uris=[redirect_uri],
        )
        session.add(client)
    else:
        if client.client_secret_hash != secret_hash:
            client.client_secret_hash = secret_hash
        if redirect_uri not in client.redirect_uris:
            client.redirect_uris = [*client.redirect_uris, redirect_uri]
        session.add(client)
    session.flush()
    return client
