"""Test fixtures: real databases (SQLite, or PostgreSQL when CITYMARKET_TEST_DATABASE_URL names one),
migrated by Alembic and seeded once into a template that each writing test gets a fresh copy of."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url

from app.core.config import Environment, Settings
from app.core.db import make_engine, unit_of_work
from app.core.migrations import upgrade
from app.main import create_app

POSTGRES_URL = os.environ.get("CITYMARKET_TEST_DATABASE_URL", "")


@dataclass
class TestDatabase:
    __test__ = False  # a fixture's value, not a test class

    url: str
    data_dir: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": Environment.test,
            "data_dir": self.data_dir,
            "database_url": self.url,
            "seed_on_start": False,
            # Search tests start the indexer themselves; elsewhere it would only add work to every test.
            "indexer_in_process": False,
        }
        values.update(overrides)
        return Settings(**values)

    def engine(self) -> Engine:
        return make_engine(self.settings())


class DatabaseFactory:
    """Creates empty databases and copies of a template, on the backend under test."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.created: list[str] = []

    @property
    def backend(self) -> str:
        return "postgresql" if POSTGRES_URL else "sqlite"

    def empty(self, name: str | None = None) -> TestDatabase:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        data_dir = self.base_dir / name
        data_dir.mkdir(parents=True, exist_ok=True)
        if not POSTGRES_URL:
            return TestDatabase(url=f"sqlite:///{data_dir / 'citymarket.sqlite3'}", data_dir=data_dir)
        self._admin(f'CREATE DATABASE "{self._pg_name(name)}"')
        return TestDatabase(url=self._pg_url(name), data_dir=data_dir)

    def copy(self, template: TestDatabase) -> TestDatabase:
        name = f"t_{uuid.uuid4().hex[:12]}"
        data_dir = self.base_dir / name
        data_dir.mkdir(parents=True)
        if not POSTGRES_URL:
            target = data_dir / "citymarket.sqlite3"
            shutil.copyfile(template.data_dir / "citymarket.sqlite3", target)
            return TestDatabase(url=f"sqlite:///{target}", data_dir=data_dir)
        source = make_url(template.url).database
        self._admin(f'CREATE DATABASE "{self._pg_name(name)}" TEMPLATE "{source}"')
        return TestDatabase(url=self._pg_url(name), data_dir=data_dir)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _pg_name(self, name: str) -> str:
        base = make_url(POSTGRES_URL).database or "citymarket"
        full = f"{base}_{name}"[:63]
        self.created.append(full)
        return full

    def _pg_url(self, name: str) -> str:
        return make_url(POSTGRES_URL).set(database=self.created[-1]).render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        # CREATE/DROP DATABASE run from the maintenance database, not from the one named in the URL.
        admin_url = make_url(POSTGRES_URL).set(database="postgres")
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(statement)
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    if POSTGRES_URL:
        factory.drop_all()


@pytest.fixture(scope="session")
def seeded_template(databases: DatabaseFactory) -> TestDatabase:
    """Migrated to head and loaded with the reference and demo seeds, once per test run."""
    from seeds.loader import load_all

    template = databases.empty(f"template_{uuid.uuid4().hex[:8]}")  # unique: test runs may overlap
    engine = template.engine()
    upgrade(engine)
    with unit_of_work(engine) as session:
        load_all(session, demo=True)
    engine.dispose()  # a PostgreSQL template must have no open connections
    return template


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
    app = create_app(db.settings(), engine=engine)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def read_db(databases: DatabaseFactory, seeded_template: TestDatabase) -> TestDatabase:
    """One seeded database shared by read-only tests (they must not write)."""
    return databases.copy(seeded_template)


@pytest.fixture(scope="session")
def read_client(read_db: TestDatabase) -> Iterator[TestClient]:
    engine = read_db.engine()
    app = create_app(read_db.settings(), engine=engine)
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


class StatementCounter:
    """Counts the SQL statements an engine executes (for N+1 checks: counts, not timings)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements() -> type[StatementCounter]:
    return StatementCounter
