"""Test fixtures: real databases (SQLite, or PostgreSQL when CITYMARKET_TEST_DATABASE_URL names one),
migrated by Alembic and seeded once per worker into a template that each writing test gets a fresh copy of
(tests/databases.py: how copies are made cheaply on each backend, and how they are named).

The suite runs in parallel (pytest-xdist, `-n auto` in pyproject.toml). Each worker builds its own templates;
the process that started the run drops whatever PostgreSQL databases the run left behind and stops the
run's Meilisearch server (tests/search/meilisearch_server.py) at its end.
Read-only fixtures (`read_db`, `read_client`, tests/api's `api`) share one database per worker behind a
`ReadOnlyGuard`: a test that writes there fails, naming the statement.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
import sqlalchemy as sa

from tests.databases import (
    POSTGRES_URL,
    RUN_ID_VARIABLE,
    DatabaseFactory,
    TestDatabase,
    run_prefix,
)

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from pwdlib import PasswordHash
    from sqlalchemy.engine import Engine

    from tests.identity.conftest import World

__all__ = ["DatabaseFactory", "TestDatabase"]  # imported from here by the suites' conftests

# The app's own hasher (set by pytest_configure before any test module is imported): test_password_hash.py
# checks the production parameters with it.
PRODUCTION_PASSWORD_HASH: PasswordHash


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault(RUN_ID_VARIABLE, uuid.uuid4().hex[:6])
    if _runs_no_test(config):
        return
    global PRODUCTION_PASSWORD_HASH
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from app.identity import service as identity_service

    PRODUCTION_PASSWORD_HASH = identity_service._password_hash
    # Argon2id at the recommended cost takes 0.1-0.5 s per hash and per verify, by design; the suite tests
    # what is hashed and verified, not the work factor. So it uses the same algorithm at its lowest cost
    # (the hash records its parameters: verifying works across both); test_identity_hasher checks the
    # production parameters.
    identity_service._password_hash = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))


def _runs_no_test(config: pytest.Config) -> bool:
    """The controller of a parallel run: it hands tests to the workers and imports no test module, so it
    need not import the app either (seconds of CPU at the start, while the workers import it too). The app
    is imported where a fixture or a test module needs it."""
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"


# Every database fixture comes from one of these templates (`db`, `read_db`, `client`... are built on them).
DATABASE_TEMPLATES = frozenset({"seeded_template", "world_template"})


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """After pytest-randomly's shuffle (this wrapper is outside its wrapper): the tests marked `slow` go
    first, in their shuffled order, then the rest. A 30-second test drawn last keeps one worker busy while
    the others have nothing left to do; started first, it is absorbed by the run (longest first)."""
    yield
    _check_database_free(items)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: the shuffle stays


def _check_database_free(items: list[pytest.Item]) -> None:
    """`database_free` tests run once in CI (the SQLite lane): the mark must not hide a database."""
    for item in items:
        if item.get_closest_marker("database_free") is None:
            continue
        used = DATABASE_TEMPLATES & set(getattr(item, "fixturenames", ()))
        if used:
            raise pytest.UsageError(f"{item.nodeid} is marked database_free but uses {sorted(used)}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # a worker: the controller cleans up once every worker has finished
    from tests.search.meilisearch_server import stop_shared_server

    stop_shared_server(session.config)
    if POSTGRES_URL:
        DatabaseFactory.drop_run(run_prefix())


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    if POSTGRES_URL:
        factory.drop_all()


@pytest.fixture(autouse=True)
def _release_test_databases(databases: DatabaseFactory) -> Iterator[None]:
    """Hand this test's database copies back to the pool (a PostgreSQL copy is reset, not dropped)."""
    yield
    databases.release_test_copies()


@pytest.fixture(scope="session")
def seeded_template(databases: DatabaseFactory) -> TestDatabase:
    """Migrated to head and loaded with the reference and demo seeds, once per test run."""
    from app.core.db import unit_of_work
    from app.core.migrations import upgrade
    from seeds.loader import load_all

    template = databases.empty(f"template_{uuid.uuid4().hex[:8]}")  # unique: test runs may overlap
    engine = template.engine()
    upgrade(engine)
    with unit_of_work(engine) as session:
        load_all(session, demo=True)
    engine.dispose()  # a PostgreSQL template must have no open connections
    return template


@pytest.fixture(scope="session")
def world_template(databases: DatabaseFactory) -> tuple[TestDatabase, World]:
    """Migrated, with the reference seeds and the identity suite's world (tests/identity/conftest.py), once
    per worker: the identity, write and GraphQL mutation suites each copy it per test."""
    from app.core.db import unit_of_work
    from app.core.migrations import upgrade
    from tests.identity.conftest import _build_world

    template = databases.empty(f"world_{uuid.uuid4().hex[:8]}")
    engine = template.engine()
    upgrade(engine)
    with unit_of_work(engine) as session:
        world = _build_world(session)
    engine.dispose()  # a PostgreSQL template must have no open connections
    return template, world


@pytest.fixture
def db(databases: DatabaseFactory, seeded_template: TestDatabase) -> TestDatabase:
    """A fresh seeded database of this test's own: write freely."""
    return databases.copy(seeded_template)


@pytest.fixture
def engine(db: TestDatabase) -> Iterator[Engine]:
    engine = db.engine()
    yield engine
    engine.dispose()


@pytest.fixture
def client(db: TestDatabase, engine: Engine) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(db.settings(), engine=engine)
    with TestClient(app) as test_client:
        yield test_client


class ReadOnlyDatabaseWrite(AssertionError):
    """A test wrote to a database that read-only tests share."""


# The statements that change a database; whatever else the app sends (SELECT, PRAGMA, SAVEPOINT) reads.
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|UPSERT|MERGE|CREATE|DROP|ALTER|TRUNCATE)\b", re.IGNORECASE)


class ReadOnlyGuard:
    """Refuses every write on an engine shared by read-only tests, so that one test cannot change what the
    next one reads. The statement raises before it reaches the database, and `_read_only_guards` fails the
    test that sent it by name, even if the app turned the error into a response the test accepted."""

    active: ClassVar[list[ReadOnlyGuard]] = []

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.paused = False
        self.writes: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", self._check)
        ReadOnlyGuard.active.append(self)

    @classmethod
    def of(cls, engine: Engine) -> ReadOnlyGuard:
        return next(guard for guard in cls.active if guard.engine is engine)

    @contextmanager
    def allowing_writes(self) -> Iterator[None]:
        """For a session fixture's own set-up (rows every reader then shares), never for a test."""
        self.paused = True
        try:
            yield
        finally:
            self.paused = False

    def detach(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._check)
        ReadOnlyGuard.active.remove(self)

    def _check(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not self.paused and _WRITE.match(statement):
            self.writes.append(statement)
            raise ReadOnlyDatabaseWrite(f"a read-only test wrote to the shared {self.name} database: {statement}")


def guarded_engine(db: TestDatabase, name: str) -> Engine:
    engine = db.engine()
    ReadOnlyGuard(engine, name)
    return engine


@pytest.fixture(autouse=True)
def _read_only_guards() -> Iterator[None]:
    before = {id(guard): len(guard.writes) for guard in ReadOnlyGuard.active}
    yield
    for guard in ReadOnlyGuard.active:
        wrote = guard.writes[before.get(id(guard), 0) :]
        if wrote:
            pytest.fail(f"this test wrote to the shared read-only {guard.name} database: {wrote[0]}", pytrace=False)


@pytest.fixture(scope="session")
def read_db(databases: DatabaseFactory, seeded_template: TestDatabase) -> TestDatabase:
    """One seeded database shared by read-only tests; open it with `guarded_engine`."""
    return databases.copy(seeded_template, keep=True)


@pytest.fixture(scope="session")
def read_client(read_db: TestDatabase) -> Iterator[TestClient]:
    """The app over `read_db`, built once per worker: for tests that only read (writes fail the test)."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    engine = guarded_engine(read_db, "read_db")
    app = create_app(read_db.settings(), engine=engine)
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


class StatementCounter:
    """Counts the SQL statements an engine executes (for N+1 checks: counts, not timings).

    Statements of the app's own background threads (the match store's periodic check, the search indexer,
    the webhook notifier) are not the request's: they run on their own clock and, on a loaded machine, land
    inside a counted block by chance, which made a refused query look as if it had run two statements."""

    BACKGROUND_THREADS: ClassVar[tuple[str, ...]] = (
        "citymarket-match-refresh",
        "search-indexer",
        "webhook-notifier",
        "webhook-send",
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not threading.current_thread().name.startswith(self.BACKGROUND_THREADS):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements() -> type[StatementCounter]:
    return StatementCounter
