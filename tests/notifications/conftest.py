"""Fixtures of the notifications suite: a fresh copy of the identity world per test, tokens per role, an app
without the in-process notifier (tests drive the worker themselves, or run it as a process), and a receiver."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.core.config import Settings
from app.identity.models import Role
from app.main import create_app
from app.notifications.delivery import Notifier
from tests.conftest import DatabaseFactory, TestDatabase
from tests.identity.conftest import BASE_URL, World, bearer, mint_user_token
from tests.notifications.receiver import Receiver


@dataclass
class Env:
    db: TestDatabase
    world: World
    engine: Engine
    settings: Settings
    app: FastAPI
    api: TestClient
    tokens: dict[Role, str]

    def auth(self, role: Role) -> dict[str, str]:
        return bearer(self.tokens[role])

    def verify_vendor(self, which: str = "a") -> None:
        """An admin verifies a vendor: the write that raises vendor.verified for its organisation."""
        vendor_id = self.world.vendor[which]
        etag = self.api.get(f"/api/v1/vendors/{vendor_id}").headers["etag"]
        answer = self.api.post(
            f"/api/v1/vendors/{vendor_id}/verify",
            json={"verified": True, "note": "checked the registry"},
            headers={**self.auth(Role.admin), "If-Match": etag},
        )
        assert answer.status_code == 200, answer.text

    def register(self, url: str, events: list[str], role: Role = Role.vendor_member) -> dict[str, Any]:
        answer = self.api.post("/api/v1/webhooks", json={"url": url, "events": events}, headers=self.auth(role))
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body


def make_env(db: TestDatabase, world: World, **overrides: Any) -> Iterator[Env]:
    engine = db.engine()
    settings = db.settings(**overrides)
    app = create_app(settings, engine=engine)
    with TestClient(app, base_url=BASE_URL) as api:
        tokens = {
            role: mint_user_token(app, engine, world, role)
            for role in (Role.vendor_member, Role.admin, Role.city_official)
        }
        yield Env(db, world, engine, settings, app, api, tokens)
    engine.dispose()


@pytest.fixture
def ndb(databases: DatabaseFactory, world_template: tuple[TestDatabase, World]) -> TestDatabase:
    return databases.copy(world_template[0])


@pytest.fixture
def env(ndb: TestDatabase, world_template: tuple[TestDatabase, World]) -> Iterator[Env]:
    yield from make_env(ndb, world_template[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def pump(engine: Engine, settings: Settings, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run the delivery worker's rounds until `done()` (bounded by a deadline, never a fixed sleep)."""
    worker = Notifier(engine, settings)
    deadline = time.monotonic() + timeout
    try:
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("the worker did not get there in time")
            if not worker.run_once():
                time.sleep(0.01)  # nothing due yet (a retry's backoff): look again shortly
    finally:
        worker.close()
