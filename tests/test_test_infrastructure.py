"""The safety net's own parts (tests/conftest.py, tests/databases.py): what they promise is checked here, as
any other code's is, since every other test relies on them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app.cities.models import Country
from app.core.db import unit_of_work
from app.hubs.models import Hub
from app.kpis.models import Kpi, KpiSdg
from tests.conftest import (
    DatabaseFactory,
    ReadOnlyDatabaseWrite,
    ReadOnlyGuard,
    StatementCounter,
    TestDatabase,
    guarded_engine,
)
from tests.databases import run_prefix, worker_id
from tests.identity.test_permission_matrix import snapshot


def _sequences(engine: sa.Engine) -> dict[str, int | None]:
    """PostgreSQL's sequence values (SQLite has none: its next id is the table's largest, in the snapshot)."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT sequencename, last_value FROM pg_sequences")
        return {name: value for name, value in rows.all()}


def test_the_read_only_guard_refuses_writes_and_lets_reads_through(
    databases: DatabaseFactory, seeded_template: TestDatabase
) -> None:
    engine = guarded_engine(databases.copy(seeded_template), "probe")
    guard = ReadOnlyGuard.of(engine)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM kpi").scalar_one() == 91
            for statement in ("INSERT INTO country (code, name) VALUES ('XX', 'X')", "  update kpi SET name = 'x'"):
                with pytest.raises(ReadOnlyDatabaseWrite, match="probe"):
                    connection.exec_driver_sql(statement)
                connection.rollback()
        assert len(guard.writes) == 2
        with guard.allowing_writes(), engine.begin() as connection:
            connection.exec_driver_sql("UPDATE kpi SET name = name")
        assert len(guard.writes) == 2
    finally:
        guard.detach()  # so that the check after this test does not count the refused writes against it
        engine.dispose()


def test_a_copy_handed_back_and_leased_again_equals_its_template(
    databases: DatabaseFactory, seeded_template: TestDatabase
) -> None:
    """On PostgreSQL the second copy is the first one, reset (tests/databases.py); on SQLite a new file."""
    template_engine = seeded_template.engine()
    want, want_sequences = snapshot(template_engine), _sequences(template_engine)
    template_engine.dispose()

    first = databases.copy(seeded_template)
    engine = first.engine()
    with unit_of_work(engine) as session:
        session.add(Country(code="XX", name="Nowhere", region="None"))
        session.add(Hub(slug="probe-hub", name="Probe hub"))  # moves a sequence on PostgreSQL
        kpi = session.exec(select(Kpi)).first()
        assert kpi is not None
        kpi.name = "changed"
        session.delete(session.exec(select(KpiSdg)).first())
    assert snapshot(engine) != want
    engine.dispose()
    databases.release(first)

    second = databases.copy(seeded_template)
    if databases.backend == "postgresql":
        assert second.name == first.name  # the pool reused it
    engine = second.engine()
    try:
        assert snapshot(engine) == want
        assert _sequences(engine) == want_sequences
    finally:
        engine.dispose()


def test_a_copy_whose_table_lost_its_write_trigger_is_dropped_not_reset(
    databases: DatabaseFactory, seeded_template: TestDatabase
) -> None:
    """The PostgreSQL reset reloads only the tables whose trigger noted a write (tests/databases.py): a table
    without that trigger (dropped and made again, as a migration's round trip does) could have changed
    unnoticed, so the copy is not handed out again."""
    if databases.backend != "postgresql":
        pytest.skip("the pool and its triggers are PostgreSQL's; a SQLite copy is a new file every time")
    template_engine = seeded_template.engine()
    want = snapshot(template_engine)
    template_engine.dispose()

    first = databases.copy(seeded_template)
    engine = first.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE country DISABLE TRIGGER cm_touched")
        connection.exec_driver_sql("UPDATE country SET name = name || ' (changed unnoticed)'")
    engine.dispose()
    databases.release(first)

    second = databases.copy(seeded_template)
    assert second.name != first.name  # dropped: the pool made a new copy
    engine = second.engine()
    try:
        assert snapshot(engine) == want
    finally:
        engine.dispose()


def test_database_names_are_unique_per_run_and_worker(databases: DatabaseFactory) -> None:
    factory = DatabaseFactory(databases.base_dir)
    name = factory.pg_name("probe")
    assert name.startswith(run_prefix())
    assert name.endswith(f"_{worker_id()}_probe")
    with pytest.raises(ValueError, match="63"):
        factory.pg_name("x" * 64)


class _Item:
    """Just what the collection hook reads of a pytest item."""

    def __init__(self, name: str, marks: set[str], fixtures: tuple[str, ...]) -> None:
        self.nodeid, self.marks, self.fixturenames = name, marks, fixtures

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self.marks else None


def test_slow_tests_go_first_and_database_free_tests_may_not_use_a_database() -> None:
    from tests.conftest import pytest_collection_modifyitems

    items = [_Item("a", set(), ()), _Item("b", {"slow"}, ()), _Item("c", set(), ()), _Item("d", {"slow"}, ())]
    hook = pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    next(hook)  # pytest-randomly shuffles here
    with pytest.raises(StopIteration):
        next(hook)
    assert [item.nodeid for item in items] == ["b", "d", "a", "c"]  # slow first, each group in its order

    lying = [_Item("e", {"database_free"}, ("client", "db", "seeded_template"))]
    hook = pytest_collection_modifyitems(lying)  # type: ignore[arg-type]
    next(hook)
    with pytest.raises(pytest.UsageError, match="e is marked database_free but uses"):
        next(hook)


def test_the_statement_counter_leaves_out_the_apps_background_threads(tmp_path: Path) -> None:
    """A request's count must not depend on when the match store's periodic check happens to run."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'counter.db'}")

    def select_one() -> None:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    try:
        with StatementCounter(engine) as counter:
            for name in ("citymarket-match-refresh", "search-indexer", "webhook-send_0", "a-test-thread"):
                thread = threading.Thread(target=select_one, name=name)
                thread.start()
                thread.join()
            select_one()
        assert counter.statements == ["SELECT 1", "SELECT 1"]  # the test's own thread and the last one
    finally:
        engine.dispose()


def test_a_databases_settings_equal_a_fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TestDatabase.settings() copies one build per other values (tests/databases.py `_settings`): each copy must
    be what Settings(**values) gives, and no copy may share a changed value with another."""
    from app.core.config import Environment, Settings
    from tests.databases import TestDatabase

    first, second = (TestDatabase(url=f"sqlite:///{tmp_path}/{n}/db.sqlite3", data_dir=tmp_path / n) for n in "ab")
    for database in (first, second, first):
        for overrides in ({}, {"env": Environment.dev, "search_index_prefix": "t_"}):
            got = database.settings(**overrides)
            values = {"env": Environment.test, "data_dir": database.data_dir, "database_url": database.url}
            values |= {"seed_on_start": False, "indexer_in_process": False, **overrides}
            assert got == Settings(**values)
    one, other = first.settings(), first.settings()
    one.matching.weak_below = 0.123
    assert other.matching.weak_below != 0.123
    monkeypatch.setenv("CITYMARKET_SEARCH_INDEX_PREFIX", "other_")  # the environment is part of the key
    changed = first.settings()
    assert changed.search_index_prefix == "other_"
    assert changed == Settings(
        env=Environment.test,
        data_dir=first.data_dir,
        database_url=first.url,
        seed_on_start=False,
        indexer_in_process=False,
    )
