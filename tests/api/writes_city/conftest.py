"""Fixtures of the city-side write tests: the identity suite's world (own city "a" = Karmoy, other city "b" =
Stavanger, vendors and hubs "a" and "b", a user per role in the "a" organisations), a fresh copy of it per
test, the app over it, and real access tokens minted for its users (as the token endpoint records them)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.auth.principal import ROLE_SCOPES
from app.auth.tokens import issue_access_token
from app.challenges.models import Challenge, ChallengeKpi, ChallengeStatus
from app.core.db import unit_of_work
from app.identity.models import OAuthClient, OAuthToken, Organisation, OrganisationKind, Role
from app.identity.service import add_membership, create_user, ensure_organisation
from app.kpis.models import Kpi
from app.main import create_app
from app.solutions.models import ListingStatus, Maturity, PriceModel, Solution
from tests.conftest import DatabaseFactory, TestDatabase
from tests.identity.conftest import BASE_URL, PASSWORD, World, auth_state

PROBLEM = "application/problem+json"


def mint(app: FastAPI, engine: Engine, world: World, user_id: int, scopes: frozenset[str]) -> str:
    """An access token for any user, issued and recorded as the token endpoint does."""
    state = auth_state(app)
    with unit_of_work(engine) as session:
        client = session.exec(
            select(OAuthClient).where(OAuthClient.client_id == world.machines["public_spa"].client_id)
        ).one()
        scope = " ".join(sorted(scopes))
        issued = issue_access_token(
            state.keys.ring(), state.settings, subject=f"user:{user_id}", client_id=client.client_id, scope=scope
        )
        session.add(
            OAuthToken(
                client_pk=client.id or 0,
                user_id=user_id,
                scope=scope,
                family_id=secrets.token_urlsafe(8),
                access_token_jti=issued.jti,
                access_token_expires_at=issued.expires_at,
            )
        )
    return issued.token


@dataclass
class Env:
    """The app, its database and the world, with tokens for its users."""

    app: FastAPI
    engine: Engine
    world: World
    http: TestClient
    _tokens: dict[Any, str] = field(default_factory=dict)

    # -- callers

    def auth(self, role: Role | None, scopes: frozenset[str] | None = None) -> dict[str, str]:
        """Authorization header for the world's user of `role` (its role's scopes unless given)."""
        if role is None:
            return {}
        key = (role, scopes)
        if key not in self._tokens:
            actor = self.world.actors[role]
            self._tokens[key] = mint(
                self.app, self.engine, self.world, actor.user_id, ROLE_SCOPES[role] if scopes is None else scopes
            )
        return {"Authorization": f"Bearer {self._tokens[key]}"}

    def new_user(self, role: Role, kind: OrganisationKind, target_id: int | None) -> dict[str, str]:
        """A new user holding `role` in the organisation of (kind, target), and its Authorization header."""
        with unit_of_work(self.engine) as session:
            organisation = ensure_organisation(session, kind, target_id)
            user = create_user(
                session, email=f"{secrets.token_hex(4)}@writes.test", name=f"{role.value} extra", password=PASSWORD
            )
            add_membership(session, user, organisation, role)
            user_id = user.id or 0
        return {"Authorization": f"Bearer {mint(self.app, self.engine, self.world, user_id, ROLE_SCOPES[role])}"}

    # -- ids

    @property
    def city_a(self) -> int:
        return self.world.city["a"]

    @property
    def city_b(self) -> int:
        return self.world.city["b"]

    def city_id(self, slug: str) -> int:
        with Session(self.engine) as session:
            return int(session.execute(sa.text("SELECT id FROM city WHERE slug = :s"), {"s": slug}).scalar_one())

    # -- the database

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(r) for r in connection.execute(sa.text(sql), params).mappings().all()]

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(sql), params)

    def snapshot(self, *tables: str) -> dict[str, list[str]]:
        """Every row of the tables, as sorted JSON: equal snapshots mean nothing changed."""
        result = {}
        with self.engine.connect() as connection:
            for table in tables:
                rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).mappings().all()
                result[table] = sorted(json.dumps(dict(r), default=str, sort_keys=True) for r in rows)
        return result

    def audit(self, action: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM audit_event" + (" WHERE action = :action" if action else "") + " ORDER BY id"
        events = self.rows(sql, action=action)
        for event in events:
            if isinstance(event["changes"], str):
                event["changes"] = json.loads(event["changes"])
        return events

    def published_solution(self, vendor: str, status: ListingStatus = ListingStatus.published) -> int:
        """A listing of vendor "a" or "b" (published unless told)."""
        with unit_of_work(self.engine) as session:
            listing = Solution(
                vendor_id=self.world.vendor[vendor],
                slug=f"writes-{vendor}-{secrets.token_hex(4)}",
                title=f"Vendor {vendor} water sensor",
                maturity=Maturity.market_ready,
                price_model=PriceModel.subscription,
                status=status,
            )
            session.add(listing)
            session.flush()
            return listing.id or 0

    def challenge(self, city: int, deadline: date, status: ChallengeStatus = ChallengeStatus.open) -> int:
        """A challenge written straight to the database (e.g. with a deadline already past)."""
        with unit_of_work(self.engine) as session:
            kpi = session.exec(select(Kpi).where(Kpi.slug == "EN-EN-AQ-1C")).one()
            challenge = Challenge(city_id=city, title="Cleaner air", deadline=deadline, status=status)
            session.add(challenge)
            session.flush()
            session.add(ChallengeKpi(challenge_id=challenge.id or 0, kpi_id=kpi.id or 0))
            return challenge.id or 0

    def organisation_of(self, kind: OrganisationKind, target_id: int) -> Organisation | None:
        with Session(self.engine) as session:
            column = {OrganisationKind.city: Organisation.city_id}[kind]
            return session.exec(select(Organisation).where(column == target_id)).first()


@pytest.fixture(scope="session")
def city_template(world_template: tuple[TestDatabase, World]) -> tuple[TestDatabase, World]:
    """The shared world template (tests/conftest.py `world_template`): tests copy it, none writes to it."""
    return world_template


@pytest.fixture
def city_db(databases: DatabaseFactory, city_template: tuple[TestDatabase, World]) -> TestDatabase:
    return databases.copy(city_template[0])


@pytest.fixture
def city_engine(city_db: TestDatabase) -> Iterator[Engine]:
    engine = city_db.engine()
    yield engine
    engine.dispose()


@pytest.fixture
def make_city_app(city_db: TestDatabase, city_engine: Engine) -> Callable[..., FastAPI]:
    """An app over this test's database; keyword arguments override settings."""

    def factory(**overrides: Any) -> FastAPI:
        return create_app(city_db.settings(**overrides), engine=city_engine)

    return factory


@pytest.fixture
def env(
    make_city_app: Callable[..., FastAPI], city_engine: Engine, city_template: tuple[TestDatabase, World]
) -> Iterator[Env]:
    app = make_city_app()
    with TestClient(app, base_url=BASE_URL) as http:
        yield Env(app=app, engine=city_engine, world=city_template[1], http=http)


def assert_problem(response: Any, status: int, *words: str) -> dict[str, Any]:
    """A problem+json answer with this status whose detail contains each word."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for word in words:
        assert word in body["detail"], (word, body["detail"])
    return body
