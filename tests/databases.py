"""The suite's databases: empty ones, and copies of a seeded template for the tests that write.

SQLite: a copy is a copy of the template's file (about a millisecond).

PostgreSQL: `CREATE DATABASE ... TEMPLATE` costs about 0.4 s here and every `DROP DATABASE` forces a
checkpoint (0.5-2.5 s), so a database per test would spend most of a run creating and dropping. Instead a
worker keeps a pool per template: a copy is made with `CREATE DATABASE ... TEMPLATE` the first time, and
when its test is over it is reset to the template's exact state and handed to the next test. The reset
(`_PostgresPool.reset`, one call of a function on the server) disconnects whoever is left, empties the tables
the test wrote to (a statement trigger on every table notes them) and loads the template's rows and sequence
values back from a schema the template carries (`cm_template`, written once when it is first copied). A test
that changed the schema itself (a table more or less, a table without its trigger) gets its database dropped
instead.

Names: every PostgreSQL database of a run is `<base>_<run>_<worker>_<name>` (`run_prefix`), where `<base>`
is the database named in CITYMARKET_TEST_DATABASE_URL, so that runs and workers never collide.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from app.core.config import Environment, Settings
from app.core.db import make_engine

POSTGRES_URL = os.environ.get("CITYMARKET_TEST_DATABASE_URL", "")
# Set once by the process that starts the run (xdist's controller, or the only process); workers inherit it.
RUN_ID_VARIABLE = "CITYMARKET_TEST_RUN_ID"
SNAPSHOT_SCHEMA = "cm_template"


def run_prefix() -> str:
    """What every PostgreSQL database of this run starts with."""
    base = (make_url(POSTGRES_URL).database if POSTGRES_URL else None) or "citymarket"
    return f"{base}_{os.environ[RUN_ID_VARIABLE]}_"


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@dataclass
class TestDatabase:
    __test__ = False  # a fixture's value, not a test class

    url: str
    data_dir: Path
    template: str | None = None  # the PostgreSQL template it was copied from (pooled copies only)

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
        return _settings(values)

    def engine(self) -> Engine:
        return make_engine(self.settings())

    @property
    def name(self) -> str:
        return make_url(self.url).database or ""


_SETTINGS: dict[Any, Settings] = {}
_PER_DATABASE = ("data_dir", "database_url")  # what differs between two copies: set on a copy of one build


def _settings(values: dict[str, Any]) -> Settings:
    """Settings(**values), built once per distinct other values and environment, then copied with the
    database's own two fields (pydantic-settings reads the environment and .env on every construction: 14 ms,
    twice per test that opens an app). A deep copy, so that no test sees another's changes; data_dir is made
    absolute as its validator does. tests/test_test_infrastructure.py checks the copy equals a fresh build.
    Values that cannot be a key (a list, say) are built afresh."""
    shared = {k: v for k, v in values.items() if k not in _PER_DATABASE}
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CITYMARKET_")))
    key = (tuple(sorted(shared.items())), environment, Path(".env").resolve())
    if not all(isinstance(values.get(k), str | Path) for k in _PER_DATABASE):
        return Settings(**values)
    try:
        built = _SETTINGS.get(key)
    except TypeError:
        return Settings(**values)
    if built is None:
        built = _SETTINGS[key] = Settings(**values)
    own = {"data_dir": Path(values["data_dir"]).expanduser().resolve(), "database_url": str(values["database_url"])}
    return built.model_copy(update=own, deep=True)


class DatabaseFactory:
    """Creates empty databases and copies of a template, on the backend under test.

    `copy()` is for one test: `release_test_copies()` (an autouse fixture, after each test) or `release()`
    hands it back. `copy(keep=True)` is for a session or module fixture's database, never handed back."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.created: list[str] = []
        self.test_copies: list[TestDatabase] = []
        self._pool = _PostgresPool(self) if POSTGRES_URL else None

    @property
    def backend(self) -> str:
        return "postgresql" if POSTGRES_URL else "sqlite"

    def empty(self, name: str | None = None) -> TestDatabase:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        data_dir = self._data_dir(name)
        if not POSTGRES_URL:
            return TestDatabase(url=f"sqlite:///{data_dir / 'citymarket.sqlite3'}", data_dir=data_dir)
        full = self.pg_name(name)
        self.create(full)
        return TestDatabase(url=self.pg_url(full), data_dir=data_dir)

    def copy(self, template: TestDatabase, *, keep: bool = False) -> TestDatabase:
        name = f"t_{uuid.uuid4().hex[:12]}"
        data_dir = self._data_dir(name)
        if self._pool is None:
            target = data_dir / "citymarket.sqlite3"
            shutil.copyfile(template.data_dir / "citymarket.sqlite3", target)
            return TestDatabase(url=f"sqlite:///{target}", data_dir=data_dir)
        if keep:
            full = self.pg_name(name)
            self.create(full, template.name)
            return TestDatabase(url=self.pg_url(full), data_dir=data_dir)
        database = TestDatabase(url=self.pg_url(self._pool.lease(template)), data_dir=data_dir, template=template.name)
        self.test_copies.append(database)
        return database

    def release(self, database: TestDatabase) -> None:
        """The test is done with this copy: the pool may reset it for the next one."""
        if database in self.test_copies:
            self.test_copies.remove(database)
            if self._pool is not None and database.template is not None:
                self._pool.give_back(database.template, database.name)

    def release_test_copies(self) -> None:
        for database in list(self.test_copies):
            self.release(database)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()

    @classmethod
    def drop_run(cls, prefix: str) -> None:
        """Drop every database whose name starts with `prefix` (a run's, including a crashed worker's)."""
        factory = cls(Path("."))
        for (name,) in factory.admin_rows("SELECT datname FROM pg_database"):
            if name.startswith(prefix):
                factory.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pg_name(self, name: str) -> str:
        full = f"{run_prefix()}{worker_id()}_{name}"
        if len(full) > 63:  # PostgreSQL would truncate it silently, and two names could become one
            raise ValueError(f"test database name {full!r} is longer than PostgreSQL's 63 characters")
        self.created.append(full)
        return full

    def pg_url(self, database: str) -> str:
        return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> None:
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        # A commit need not wait for its WAL to reach the disk: a crash of the server would lose the last
        # commits of a test database, which nobody keeps. Every write test commits; this halves their cost.
        self.admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')

    def admin(self, statement: str) -> None:
        self.admin_rows(statement, fetch=False)

    def admin_rows(self, statement: str, *, database: str = "postgres", fetch: bool = True) -> list[Any]:
        # CREATE/DROP DATABASE run from the maintenance database, not from the one named in the URL.
        engine = sa.create_engine(make_url(self.pg_url(database)), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                result = connection.exec_driver_sql(statement)
                return list(result) if fetch else []
        finally:
            engine.dispose()

    def _data_dir(self, name: str) -> Path:
        data_dir = self.base_dir / name
        data_dir.mkdir(parents=True, exist_ok=True)
        return data_dir


@dataclass
class _PostgresPool:
    """Copies of each template, reused across tests after a reset (see the module docstring)."""

    factory: DatabaseFactory
    free: dict[str, list[str]] = field(default_factory=dict)
    snapshotted: set[str] = field(default_factory=set)

    def lease(self, template: TestDatabase) -> str:
        source = template.name
        if source not in self.snapshotted:
            self._snapshot(template)
            self.snapshotted.add(source)
        free = self.free.setdefault(source, [])
        while free:
            name = free.pop()
            if self.reset(name):
                return name
            self.factory.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        name = self.factory.pg_name(f"p_{uuid.uuid4().hex[:12]}")
        self.factory.create(name, source)
        return name

    def give_back(self, template: str, name: str) -> None:
        self.free.setdefault(template, []).append(name)

    def _snapshot(self, template: TestDatabase) -> None:
        """Keep the template's rows and sequence values in a schema of its own, copied along with it, with the
        function that resets a copy from them (RESET_FUNCTION)."""
        engine = sa.create_engine(template.url, poolclass=sa.NullPool)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"CREATE SCHEMA {SNAPSHOT_SCHEMA}")
                for table in _tables(connection):
                    connection.exec_driver_sql(f'CREATE TABLE {SNAPSHOT_SCHEMA}."{table}" AS TABLE public."{table}"')
                connection.exec_driver_sql(
                    f"CREATE TABLE {SNAPSHOT_SCHEMA}.sequence_values AS "
                    "SELECT schemaname || '.' || quote_ident(sequencename) AS name, last_value FROM pg_sequences "
                    "WHERE schemaname = 'public'"
                )
                # Through the driver's own cursor, without parameters: format()'s %I is not a placeholder.
                connection.connection.cursor().execute(TOUCH_FUNCTION)
                for table in _tables(connection):
                    connection.exec_driver_sql(
                        f"CREATE TRIGGER {TOUCH_TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                        f'ON public."{table}" FOR EACH STATEMENT EXECUTE FUNCTION {SNAPSHOT_SCHEMA}.touch()'
                    )
                connection.connection.cursor().execute(RESET_FUNCTION)
        finally:
            engine.dispose()

    def reset(self, name: str) -> bool:
        """Make a used copy equal its template again; False when the schema changed (drop it instead).
        One connection and one statement: the reset runs on the server (RESET_FUNCTION)."""
        engine = sa.create_engine(self.factory.pg_url(name), poolclass=sa.NullPool)
        try:
            with engine.begin() as connection:
                return bool(connection.exec_driver_sql(f"SELECT {SNAPSHOT_SCHEMA}.reset_copy()").scalar_one())
        finally:
            engine.dispose()


# Which tables a test wrote to: a statement trigger on every table of the template (copied with it) notes
# the table in `touched`, in the writer's own transaction (a rolled-back write leaves no note, and nothing to
# reset). No unique key on `touched`, so that two transactions writing one table never wait for each other.
TOUCH_TRIGGER = "cm_touched"
TOUCH_FUNCTION = f"""
CREATE UNLOGGED TABLE {SNAPSHOT_SCHEMA}.touched (name text NOT NULL);
CREATE FUNCTION {SNAPSHOT_SCHEMA}.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM {SNAPSHOT_SCHEMA}.touched WHERE name = TG_TABLE_NAME) THEN
        INSERT INTO {SNAPSHOT_SCHEMA}.touched VALUES (TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$
"""

# Rows go back as they were in the tables the test wrote to (`touched`; a foreign key's cascade writes the
# other table by a statement of its own, so that table is noted too), foreign keys included: no need to check
# them again (and with the triggers off, the order of the tables does not matter). DELETE, not TRUNCATE: on
# tables this small it is ten times faster, as TRUNCATE makes new files for every table and index. Sequences
# all go back (cheap). Sequences made by the test (none expected) would survive: they count as a schema
# change, as a table more or less does, or a table without its trigger (one dropped and made again, as a
# migration's round trip does). Whoever is still connected to the copy (a pool a test did not dispose of) is
# disconnected first, so that no lock of theirs holds the reset up.
RESET_FUNCTION = f"""
CREATE FUNCTION {SNAPSHOT_SCHEMA}.reset_copy() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    name text;
    live text[] := ARRAY(SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1);
    kept text[] := ARRAY(SELECT tablename::text FROM pg_tables
                         WHERE schemaname = '{SNAPSHOT_SCHEMA}' AND tablename NOT IN ('sequence_values', 'touched')
                         ORDER BY 1);
    written text[];
BEGIN
    PERFORM pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid();
    IF live IS DISTINCT FROM kept THEN
        RETURN false;
    END IF;
    IF (SELECT count(*) FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
        WHERE c.relnamespace = 'public'::regnamespace AND t.tgname = '{TOUCH_TRIGGER}' AND t.tgenabled = 'O')
       <> cardinality(live) THEN
        RETURN false;
    END IF;
    written := ARRAY(SELECT DISTINCT touched.name FROM {SNAPSHOT_SCHEMA}.touched ORDER BY 1);
    PERFORM set_config('session_replication_role', 'replica', true);
    FOREACH name IN ARRAY written LOOP
        EXECUTE format('DELETE FROM public.%I', name);
    END LOOP;
    FOREACH name IN ARRAY written LOOP
        EXECUTE format('INSERT INTO public.%I OVERRIDING SYSTEM VALUE TABLE {SNAPSHOT_SCHEMA}.%I', name, name);
    END LOOP;
    DELETE FROM {SNAPSHOT_SCHEMA}.touched;
    PERFORM CASE WHEN last_value IS NULL THEN setval(sequence.name, 1, false) ELSE setval(sequence.name, last_value) END
        FROM {SNAPSHOT_SCHEMA}.sequence_values AS sequence;
    RETURN (SELECT count(*) FROM pg_sequences WHERE schemaname = 'public')
         = (SELECT count(*) FROM {SNAPSHOT_SCHEMA}.sequence_values);
END
$$
"""


def _tables(connection: sa.Connection, schema: str = "public") -> list[str]:
    rows = connection.exec_driver_sql(
        f"SELECT tablename FROM pg_tables WHERE schemaname = '{schema}' ORDER BY tablename"
    ).all()
    return [row[0] for row in rows]
