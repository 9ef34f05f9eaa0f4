"""A search engine outage never loses an update (real Meilisearch, stopped and started again).

Writes go on while Meilisearch is down; the outbox keeps every change; once it is back, draining the
outbox makes each index equal the database exactly: no lost and no stale documents. The same holds when
the indexer process is killed between commit and apply.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.search_index import indexer
from app.search_index.indexer import apply_batch, drain, ensure_indexes
from app.search_index.models import SearchOutbox
from tests.conftest import TestDatabase
from tests.search_app.conftest import MeiliProcess
from tests.search_app.workload import index_matches_database, mixed_writes

pytestmark = [pytest.mark.meilisearch, pytest.mark.slow]


def _pending(db: Engine) -> int:
    with Session(db) as session:
        count = select(sa.func.count()).select_from(SearchOutbox).where(col(SearchOutbox.processed_at).is_(None))
        return int(session.exec(count).one())


def _drain_until_empty(db: Engine, search: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while _pending(db):
        drain(db, search)  # type: ignore[arg-type]
        if time.monotonic() > deadline:
            raise AssertionError(f"{_pending(db)} outbox rows still pending")
        time.sleep(0.2)  # failed rows wait out their backoff


def _index_the_seeds(db: Engine, search: object) -> None:
    """The indexes, then the seeds' own outbox rows (every searchable seeded row has one): the index equals
    the database before the test's writes. No `rebuild` first: it would load every index a second time
    (its tasks are most of the cost on Meilisearch) for what the drain does anyway."""
    ensure_indexes(search)  # type: ignore[arg-type]
    _drain_until_empty(db, search)


def test_an_outage_loses_no_update(db: TestDatabase, engine: Engine, meili: MeiliProcess) -> None:
    search = meili.engine(prefix=f"outage-{uuid.uuid4().hex[:8]}-")
    _index_the_seeds(engine, search)
    assert index_matches_database(engine, search) == {}

    meili.stop()
    assert mixed_writes(engine, 1000) == 1000  # every write committed while the engine was down
    result = apply_batch(engine, search)
    assert result.failed > 0
    assert result.applied == 0
    assert _pending(engine) > 0

    meili.start()
    _drain_until_empty(engine, search)
    assert index_matches_database(engine, search) == {}


def test_an_indexer_killed_between_commit_and_apply_loses_nothing(
    db: TestDatabase, engine: Engine, meili: MeiliProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"killed-{uuid.uuid4().hex[:8]}-"
    search = meili.engine(prefix=prefix)
    _index_the_seeds(engine, search)
    assert index_matches_database(engine, search) == {}

    # 1. Deterministic: the indexer dies after the engine applied a batch, before the rows are marked done.
    mixed_writes(engine, 200, seed=11)
    real_apply = indexer._apply

    def apply_then_die(*args: object) -> None:
        real_apply(*args)  # type: ignore[arg-type]
        raise SystemExit("killed after apply, before marking the rows processed")

    monkeypatch.setattr(indexer, "_apply", apply_then_die)
    with pytest.raises(SystemExit):
        apply_batch(engine, search)
    monkeypatch.setattr(indexer, "_apply", real_apply)
    assert _pending(engine) > 0  # nothing was marked done
    _drain_until_empty(engine, search)
    assert index_matches_database(engine, search) == {}

    # 2. A real process, killed with SIGKILL while it works through a backlog.
    env = {
        **os.environ,
        "CITYMARKET_DATABASE_URL": db.url,
        "CITYMARKET_DATA_DIR": str(db.data_dir),
        "CITYMARKET_ENV": "test",
        "CITYMARKET_SEARCH_ENGINE": "meilisearch",
        "CITYMARKET_MEILISEARCH_URL": meili.url,
        "CITYMARKET_MEILISEARCH_API_KEY": meili.api_key,
        "CITYMARKET_SEARCH_INDEX_PREFIX": prefix,
        "CITYMARKET_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "indexer", "--poll-seconds", "0.05"], env=env)
    try:
        mixed_writes(engine, 300, seed=13)
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    _drain_until_empty(engine, search)
    assert index_matches_database(engine, search) == {}
