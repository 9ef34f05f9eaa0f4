"""Fixtures of the identity suite: a world of our own (two cities, vendors and hubs: "a" is the callers' own,
"b" someone else's), a user per role, and OAuth clients, migrated and created once into a template that
each test gets a fresh copy of (SQLite or PostgreSQL, as the shared fixtures do).

The world is built from the reference seeds plus rows this suite creates itself, so that it does not
depend on the demo catalogue (which other suites and seeds own).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.auth.principal import ROLE_KIND, ROLE_SCOPES
from app.auth.state import AuthState
from app.auth.tokens import issue_access_token
from app.cities.models import City
from app.core.db import unit_of_work
from app.hubs.models import Hub
from app.identity.models import OAuthClient, OAuthToken, Organisation, OrganisationKind, Role, User
from app.identity.service import (
    add_membership,
    create_client,
    create_user,
    ensure_all_organisations,
    ensure_organisation,
)
from app.main import create_app
from app.vendors.models import Vendor, VendorSize
from tests.conftest import DatabaseFactory, TestDatabase

BASE_URL = "http://127.0.0.1:8000"
TOKEN_URL = f"{BASE_URL}/oauth/token"
AUTHORIZE_URL = f"{BASE_URL}/oauth/authorize"
REVOKE_URL = f"{BASE_URL}/oauth/revoke"
REDIRECT_URI = "http://127.0.0.1:9999/callback"
PASSWORD = "correct horse battery staple"

ROLES: tuple[Role, ...] = tuple(Role)


@dataclass(frozen=True)
class Actor:
    role: Role
    user_id: int
    email: str
    organisation_id: int
    target_id: int | None


@dataclass(frozen=True)
class Machine:
    client_id: str
    secret: str | None
    organisation_id: int | None = None


@dataclass
class World:
    """Ids in the template (the same in every copy)."""

    city: dict[str, int] = field(default_factory=dict)  # "a" (own), "b" (other)
    vendor: dict[str, int] = field(default_factory=dict)
    hub: dict[str, int] = field(default_factory=dict)
    organisation: dict[tuple[OrganisationKind, str], int] = field(default_factory=dict)
    actors: dict[Role, Actor] = field(default_factory=dict)
    machines: dict[str, Machine] = field(default_factory=dict)

    def target(self, kind: OrganisationKind, which: str) -> int | None:
        table = {OrganisationKind.city: self.city, OrganisationKind.vendor: self.vendor, OrganisationKind.hub: self.hub}
        return table[kind][which] if kind in table else None


def _build_world(session: Session) -> World:
    from seeds.loader import load_reference

    load_reference(session)
    world = World()
    cities = {c.slug: c for c in session.exec(select(City)).all()}
    world.city = {"a": cities["karmoy"].id or 0, "b": cities["stavanger"].id or 0}
    for which in ("a", "b"):
        vendor = Vendor(
            slug=f"identity-vendor-{which}",
            name=f"Identity Vendor {which.upper()}",
            country_code="NO",
            size=VendorSize.small,
        )
        hub = Hub(slug=f"identity-hub-{which}", name=f"Identity Hub {which.upper()}")
        session.add(vendor)
        session.add(hub)
        session.flush()
        world.vendor[which] = vendor.id or 0
        world.hub[which] = hub.id or 0
    ensure_all_organisations(session)
    for kind in (OrganisationKind.city, OrganisationKind.vendor, OrganisationKind.hub):
        for which in ("a", "b"):
            org = ensure_organisation(session, kind, world.target(kind, which))
            world.organisation[(kind, which)] = org.id or 0
    for kind in (OrganisationKind.programme, OrganisationKind.platform):
        org = ensure_organisation(session, kind)
        world.organisation[(kind, "a")] = world.organisation[(kind, "b")] = org.id or 0

    for role in ROLES:
        kind = ROLE_KIND[role]
        organisation = session.get(Organisation, world.organisation[(kind, "a")])
        assert organisation is not None
        user = create_user(session, email=f"{role.value}@identity.test", name=role.value, password=PASSWORD)
        add_membership(session, user, organisation, role)
        world.actors[role] = Actor(role, user.id or 0, user.email, organisation.id or 0, world.target(kind, "a"))

    vendor_org = session.get(Organisation, world.organisation[(OrganisationKind.vendor, "a")])
    city_org = session.get(Organisation, world.organisation[(OrganisationKind.city, "a")])
    sync = create_client(session, name="Vendor A catalogue sync", organisation=vendor_org)
    pipeline = create_client(session, name="City A data pipeline", organisation=city_org)
    webapp = create_client(session, name="Vendor A web app", organisation=vendor_org, redirect_uris=[REDIRECT_URI])
    spa = create_client(session, name="Browser app", organisation=None, public=True, redirect_uris=[REDIRECT_URI])
    world.machines = {
        "vendor_sync": Machine(sync.client.client_id, sync.secret, vendor_org.id if vendor_org else None),
        "city_pipeline": Machine(pipeline.client.client_id, pipeline.secret, city_org.id if city_org else None),
        "confidential_web": Machine(webapp.client.client_id, webapp.secret),
        "public_spa": Machine(spa.client.client_id, None),
    }
    return world


@pytest.fixture(scope="session")
def identity_template(world_template: tuple[TestDatabase, World]) -> tuple[TestDatabase, World]:
    """The shared world template (tests/conftest.py `world_template`): tests copy it, none writes to it."""
    return world_template


@pytest.fixture
def world(identity_template: tuple[TestDatabase, World]) -> World:
    return identity_template[1]


@pytest.fixture
def idb(databases: DatabaseFactory, identity_template: tuple[TestDatabase, World]) -> TestDatabase:
    return databases.copy(identity_template[0])


@pytest.fixture
def iengine(idb: TestDatabase) -> Iterator[Engine]:
    engine = idb.engine()
    yield engine
    engine.dispose()


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(idb: TestDatabase, iengine: Engine) -> AppFactory:
    """An app over this test's database; keyword arguments override settings."""

    def factory(**overrides: Any) -> FastAPI:
        return create_app(idb.settings(**overrides), engine=iengine)

    return factory


@pytest.fixture
def app(make_app: AppFactory) -> FastAPI:
    return make_app()


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def auth_state(app: FastAPI) -> AuthState:
    state: AuthState = app.state.auth
    return state


def oauth_client(api: TestClient, **kwargs: Any) -> OAuth2Client:
    """Authlib's own OAuth 2 client, over the app (the TestClient's transport runs the ASGI app)."""
    return OAuth2Client(transport=api._transport, base_url=BASE_URL, **kwargs)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self._label_for: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "label":
            self._label_for = values.get("for")

    def handle_data(self, data: str) -> None:
        if self._label_for and data.strip():
            self.labels[self._label_for] = data.strip()
            self._label_for = None


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


def browser_login(
    api: TestClient, authorization_url: str, email: str, password: str, action: str = "allow"
) -> httpx.Response:
    """What a person's browser does: open the sign-in page, fill in the form, submit it."""
    page = api.get(authorization_url, headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    form = parse_form(page.text)
    assert form.action == "/oauth/authorize"
    data = {**form.fields, "email": email, "password": password, "action": action}
    return api.post("/oauth/authorize", data=data, headers={"accept": "text/html"}, follow_redirects=False)


def mint_user_token(
    app: FastAPI, engine: Engine, world: World, role: Role, scopes: frozenset[str] | None = None
) -> str:
    """An access token for a role's user, issued and recorded as the token endpoint does (for the matrix,
    where running the browser flow per cell would test the flow, not the permissions)."""
    actor = world.actors[role]
    state = auth_state(app)
    with unit_of_work(engine) as session:
        client = session.exec(
            select(OAuthClient).where(OAuthClient.client_id == world.machines["public_spa"].client_id)
        ).one()
        scope = " ".join(sorted(ROLE_SCOPES[role] if scopes is None else scopes))
        issued = issue_access_token(
            state.keys.ring(), state.settings, subject=f"user:{actor.user_id}", client_id=client.client_id, scope=scope
        )
        session.add(
            OAuthToken(
                client_pk=client.id or 0,
                user_id=actor.user_id,
                scope=scope,
                family_id=secrets.token_urlsafe(8),
                access_token_jti=issued.jti,
                access_token_expires_at=issued.expires_at,
            )
        )
    return issued.token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get_user(engine: Engine, user_id: int) -> User:
    with Session(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        return user
