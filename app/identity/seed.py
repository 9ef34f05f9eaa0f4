"""Identity seeds: an organisation for every city, vendor and hub plus the programme and the platform
(always), and in dev the demo accounts and the demo public client (marked is_demo).

The demo passwords are published in the README; they exist only when CITYMARKET_ENV=dev.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.cities.models import City
from app.core.config import Environment, Settings
from app.hubs.models import Hub
from app.identity.models import OAuthClient, Organisation, OrganisationKind, Role, User
from app.identity.service import (
    add_membership,
    create_client,
    create_user,
    ensure_all_organisations,
    ensure_organisation,
)
from app.vendors.models import Vendor

DEMO_CLIENT_ID = "citymarket-demo"
DEMO_CALLBACK_PATH = "/oauth/callback-demo"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    password: str
    role: Role
    # Which seeded organisation: (kind, slug candidates); the first slug found wins.
    kind: OrganisationKind
    slugs: tuple[str, ...] = ()


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "official@demo.citymarket.example",
        "Demo city official (Karmoy)",
        "demo-city-password",
        Role.city_official,
        OrganisationKind.city,
        ("karmoy",),
    ),
    DemoAccount(
        "vendor@demo.citymarket.example",
        "Demo vendor member (Fjordlytt)",
        "demo-vendor-password",
        Role.vendor_member,
        OrganisationKind.vendor,
        ("fjordlytt",),
    ),
    DemoAccount(
        "curator@demo.citymarket.example",
        "Demo hub curator (Nordic hub)",
        "demo-hub-password",
        Role.hub_curator,
        OrganisationKind.hub,
        ("nordic", "nordic-hub", "nordics"),
    ),
    DemoAccount(
        "coordinator@demo.citymarket.example",
        "Demo programme coordinator",
        "demo-programme-password",
        Role.programme_coordinator,
        OrganisationKind.programme,
    ),
    DemoAccount(
        "admin@demo.citymarket.example",
        "Demo admin",
        "demo-admin-password",
        Role.admin,
        OrganisationKind.platform,
    ),
)


@dataclass
class IdentitySeedReport:
    organisations: int = 0
    users: int = 0
    clients: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"identity: created {self.organisations} organisations, {self.users} demo users, "
            f"{self.clients} demo clients"
        )
        return text + "".join(f"\n  note: {n}" for n in self.notes)


_MODELS: dict[OrganisationKind, type[City] | type[Vendor] | type[Hub]] = {
    OrganisationKind.city: City,
    OrganisationKind.vendor: Vendor,
    OrganisationKind.hub: Hub,
}


def _organisation_for(session: Session, account: DemoAccount) -> Organisation | None:
    model = _MODELS.get(account.kind)
    if model is None:
        return ensure_organisation(session, account.kind)
    for slug in account.slugs:
        target_id = session.execute(sa.select(col(model.id)).where(col(model.slug) == slug)).scalar()
        if target_id is not None:
            return ensure_organisation(session, account.kind, target_id)
    if account.kind is OrganisationKind.hub:
        # Whichever hub the demo catalogue has, if the Nordic one is not (yet) among them.
        target_id = session.execute(sa.select(col(Hub.id)).order_by(col(Hub.id)).limit(1)).scalar()
        if target_id is not None:
            return ensure_organisation(session, account.kind, target_id)
    return None


def demo_redirect_uri(settings: Settings) -> str:
    return f"{settings.public_base_url.rstrip('/')}{DEMO_CALLBACK_PATH}"


def seed_demo_accounts(
    session: Session, settings: Settings, report: IdentitySeedReport | None = None
) -> IdentitySeedReport:
    """The demo users (one per role, tied to seeded organisations) and the demo public client. Idempotent."""
    report = report or IdentitySeedReport()
    for account in DEMO_ACCOUNTS:
        organisation = _organisation_for(session, account)
        if organisation is None:
            report.notes.append(f"{account.email}: no seeded {account.kind.value} {'/'.join(account.slugs)}; skipped")
            continue
        user = session.exec(select(User).where(User.email == account.email)).first()
        if user is None:
            user = create_user(session, email=account.email, name=account.name, password=account.password, is_demo=True)
            report.users += 1
        add_membership(session, user, organisation, account.role)
    redirect_uri = demo_redirect_uri(settings)
    client = session.exec(select(OAuthClient).where(OAuthClient.client_id == DEMO_CLIENT_ID)).first()
    if client is None:
        create_client(
            session,
            name="citymarket demo (browser sign-in)",
            organisation=None,
            public=True,
            redirect_uris=[redirect_uri],
            client_id=DEMO_CLIENT_ID,
            is_demo=True,
        )
        report.clients += 1
    else:
        _allow_redirect(session, client, redirect_uri)
    session.flush()
    return report


def allow_demo_redirect(session: Session, settings: Settings) -> None:
    """The demo client may come back to this base URL (dev: `serve` on another port than the seed's)."""
    client = session.exec(select(OAuthClient).where(OAuthClient.client_id == DEMO_CLIENT_ID)).first()
    if client is not None:
        _allow_redirect(session, client, demo_redirect_uri(settings))


def _allow_redirect(session: Session, client: OAuthClient, redirect_uri: str) -> None:
    if redirect_uri not in client.redirect_uris:
        client.redirect_uris = [*client.redirect_uris, redirect_uri]
        session.add(client)


def seed_identity(session: Session, settings: Settings, *, demo: bool = True) -> IdentitySeedReport:
    """Organisations for everything seeded; in dev (and with demo data) the demo accounts too."""
    report = IdentitySeedReport(organisations=ensure_all_organisations(session))
    if demo and settings.env is Environment.dev:
        seed_demo_accounts(session, settings, report)
    return report
