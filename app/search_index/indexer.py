"""Applies the search outbox to the engine: in batches, idempotently, retrying with backoff.

Rows are claimed oldest first (with SKIP LOCKED on PostgreSQL, so two indexers never fight over a row),
the documents are rebuilt from the database's current state, the engine is written, and only when it has
confirmed are the rows marked processed. A crash between commit and apply leaves the rows pending: the
next run applies them again, which is harmless because applying is idempotent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.models import utcnow
from app.search_index.documents import BUILDERS, document_id, object_id_of, searchable_ids
from app.search_index.indexes import DEFINITIONS, THESAURUS
from app.search_index.models import SearchOutbox
from app.search_index.outbox import outbox_written
from app.search_index.thesaurus_service import current_definitions
from search import IndexDefinition, IndexNotFound, SearchEngine, SearchUnavailable

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
MAX_BACKOFF_SECONDS = 60.0


def backoff_seconds(attempts: int) -> float:
    return float(min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** max(0, attempts - 1)))


@dataclass
class DrainResult:
    applied: int = 0
    failed: int = 0


def ensure_indexes(engine: SearchEngine, definitions: Mapping[str, IndexDefinition] | None = None) -> None:
    """Create the indexes or bring their settings up to date (the synonyms among them); without `definitions`,
    the static ones (the seed file's thesaurus)."""
    for definition in (definitions or DEFINITIONS).values():
        engine.ensure_index(definition)


def ensure_current_indexes(db: Engine, engine: SearchEngine) -> None:
    """`ensure_indexes` with the database's thesaurus: what the indexer does at start and after an edit."""
    with Session(db) as session:
        definitions = current_definitions(session)
    ensure_indexes(engine, definitions)


def apply_batch(db: Engine, search: SearchEngine, batch_size: int = BATCH_SIZE) -> DrainResult:
    """Apply one batch of pending outbox rows; returns how many rows were applied or failed."""
    result = DrainResult()
    with Session(db, expire_on_commit=False) as session:
        claim = (
            select(SearchOutbox)
            .where(col(SearchOutbox.processed_at).is_(None))
            .where(sa.or_(col(SearchOutbox.next_attempt_at).is_(None), col(SearchOutbox.next_attempt_at) <= utcnow()))
            .order_by(col(SearchOutbox.id))
            .limit(batch_size)
        )
        if db.dialect.name == "postgresql":
            claim = claim.with_for_update(skip_locked=True)
        rows = list(session.exec(claim).all())
        if not rows:
            return result
        row_ids = [row.id for row in rows]
        by_index: dict[str, set[int]] = {}
        for row in rows:
            by_index.setdefault(row.index_name, set()).add(row.object_id)
        max_attempts = max(row.attempts for row in rows)
        if db.dialect.name == "sqlite":
            # End the read snapshot now: SQLite cannot upgrade a stale read transaction to a write
            # ("database is locked"), whereas a transaction that starts with its write waits its turn.
            session.rollback()
        try:
            for index, ids in sorted(by_index.items()):
                _apply(session, search, index, sorted(ids))
        except SearchUnavailable as exc:
            if db.dialect.name == "sqlite":
                session.rollback()
            session.execute(
                sa.update(SearchOutbox)
                .where(col(SearchOutbox.id).in_(row_ids))
                .values(
                    attempts=SearchOutbox.attempts + 1,
                    last_error=str(exc)[:500],
                    next_attempt_at=utcnow() + timedelta(seconds=backoff_seconds(max_attempts + 1)),
                )
            )
            session.commit()
            result.failed = len(rows)
            log.warning("search engine unavailable; outbox rows kept for retry", rows=len(rows), error=str(exc))
            return result
        if db.dialect.name == "sqlite":
            session.rollback()
        session.execute(sa.update(SearchOutbox).where(col(SearchOutbox.id).in_(row_ids)).values(processed_at=utcnow()))
        session.commit()
        result.applied = len(rows)
    return result


def _apply(session: Session, search: SearchEngine, index: str, ids: list[int]) -> None:
    if index == THESAURUS:  # a thesaurus edit: every index gets the database's synonyms (no document changes)
        ensure_indexes(search, current_definitions(session))
        return
    documents = BUILDERS[index](session, ids)
    present = {object_id_of(d["id"]) for d in documents}
    gone = [document_id(index, i) for i in ids if i not in present]
    if documents:
        search.upsert(index, documents)
    if gone:
        search.delete(index, gone)


def drain(db: Engine, search: SearchEngine, *, batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> int:
    """Apply pending rows until none are due (or the engine fails); returns the number applied."""
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        result = apply_batch(db, search, batch_size)
        batches += 1
        total += result.applied
        if result.failed or not result.applied:
            break
    return total


def purge_processed(db: Engine, older_than: timedelta = timedelta(days=1)) -> int:
    with Session(db) as session:
        deleted = session.execute(
            sa.delete(SearchOutbox).where(
                col(SearchOutbox.processed_at).is_not(None), col(SearchOutbox.processed_at) < utcnow() - older_than
            )
        )
        session.commit()
        return int(deleted.rowcount or 0)  # type: ignore[attr-defined]


def rebuild(
    db: Engine, search: SearchEngine, indexes: Iterable[str] | None = None, chunk: int = 2000
) -> dict[str, int]:
    """Rebuild whole indexes from the database (into a fresh index, then an atomic swap)."""
    counts: dict[str, int] = {}
    with Session(db) as session:
        definitions = current_definitions(session)
    for index in indexes or DEFINITIONS:

        def documents(index: str = index) -> Iterable[dict[str, Any]]:
            with Session(db) as session:
                ids = [int(i) for i in session.execute(searchable_ids(index).order_by(None)).scalars().all()]
                ids.sort()
                for start in range(0, len(ids), chunk):
                    yield from BUILDERS[index](session, ids[start : start + chunk])

        counts[index] = search.rebuild(definitions[index], documents())
    return counts


@dataclass
class IndexStatus:
    backlog: int
    failing: int
    oldest_pending_seconds: float | None
    counts: dict[str, dict[str, int]]
    consistent: bool


def status(db: Engine, search: SearchEngine | None) -> IndexStatus:
    """The outbox backlog, and whether each index holds exactly the searchable objects of the database."""
    with Session(db) as session:
        pending = col(SearchOutbox.processed_at).is_(None)
        backlog = session.exec(select(sa.func.count()).select_from(SearchOutbox).where(pending)).one()
        failing = session.exec(
            select(sa.func.count()).select_from(SearchOutbox).where(pending, col(SearchOutbox.attempts) > 0)
        ).one()
        oldest = session.exec(select(sa.func.min(SearchOutbox.created_at)).where(pending)).one()
        counts: dict[str, dict[str, int]] = {}
        consistent = True
        for index in DEFINITIONS:
            expected = int(
                session.execute(sa.select(sa.func.count()).select_from(searchable_ids(index).subquery())).scalar_one()
            )
            indexed = _count(search, index)
            counts[index] = {"database": expected, "index": indexed}
            consistent = consistent and expected == indexed
    age = (utcnow() - oldest).total_seconds() if oldest is not None else None
    return IndexStatus(int(backlog), int(failing), age, counts, consistent and backlog == 0)


class BackgroundIndexer:
    """The in-process indexer of the embedded mode: a daemon thread woken by commits (and a timer)."""

    def __init__(self, db: Engine, search: SearchEngine, poll_seconds: float = 2.0) -> None:
        self.db = db
        self.search = search
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="search-indexer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        outbox_written.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            ensure_current_indexes(self.db, self.search)
        except SearchUnavailable as exc:
            log.warning("search engine unavailable at start", error=str(exc))
        while not self._stop.is_set():
            outbox_written.wait(self.poll_seconds)
            outbox_written.clear()
            try:
                drain(self.db, self.search)
            except Exception:  # keep the thread alive: the rows stay pending and are retried
                log.exception("indexer batch failed")
                time.sleep(1.0)


def _count(search: SearchEngine | None, index: str) -> int:
    if search is None:
        return -1
    try:
        return search.count(index)
    except IndexNotFound:
        return 0
    except SearchUnavailable:
        return -1


def search_readiness(db: Engine, search: SearchEngine) -> dict[str, Any]:
    """What /readyz says about search: reachable, the outbox backlog, and whether index and database agree."""
    healthy = search.healthy()
    state = status(db, search if healthy else None)
    return {
        "engine": search.kind,
        "healthy": healthy,
        "backlog": state.backlog,
        "failing": state.failing,
        "oldest_pending_seconds": state.oldest_pending_seconds,
        "consistent": state.consistent if healthy else None,
        "counts": state.counts,
    }
