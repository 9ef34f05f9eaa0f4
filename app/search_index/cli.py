"""Search operations: `citymarket indexer`, `citymarket reindex`, `citymarket search status`."""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import asdict
from types import FrameType
from typing import Annotated

import sqlalchemy as sa
import structlog
import typer
from sqlalchemy.engine import Engine

from app.core.cli_support import service_engine
from app.core.config import Settings, get_settings
from app.core.db import DatabaseMissing, existing_engine
from app.search_index.engine import make_search_engine
from app.search_index.indexer import drain, ensure_current_indexes, purge_processed, rebuild, status
from app.search_index.indexes import DEFINITIONS
from search import SearchUnavailable

log = structlog.get_logger(__name__)
search_cli = typer.Typer(help="Search index operations.", no_args_is_help=True)


def indexer(
    poll_seconds: Annotated[float, typer.Option(min=0.05, help="Seconds between outbox polls")] = 1.0,
    once: Annotated[bool, typer.Option(help="Drain what is pending, then exit")] = False,
) -> None:
    """Apply the search outbox to the engine until stopped (the server deployment's indexer process)."""
    settings = get_settings()
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()  # finish the batch in hand, then exit: a row is only marked done once applied

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    db = _database_when_reachable(settings, stop, wait=not once)
    if db is None:
        return
    search = make_search_engine(settings)
    ready = False
    last_purge = 0.0
    while not stop.is_set():
        try:
            if not ready:
                ensure_current_indexes(db, search)
                ready = True
            applied = drain(db, search)
            if applied:
                log.info("outbox applied", rows=applied)
            if time.monotonic() - last_purge > 3600:
                purge_processed(db)
                last_purge = time.monotonic()
        except SearchUnavailable as exc:
            log.warning("search engine unavailable; will retry", error=str(exc))
        except sa.exc.OperationalError as exc:
            # The database is down or restarting: the claimed rows (if any) were not marked, so they stay
            # pending; the pool's pre-ping replaces the dead connections once it is back.
            log.warning("database unavailable; will retry", error=_first_line(exc))
            if once:
                raise typer.Exit(code=1) from exc
        if once:
            break
        stop.wait(poll_seconds)
    search.close()
    db.dispose()


def _database_when_reachable(settings: Settings, stop: threading.Event, *, wait: bool) -> Engine | None:
    """The service's database. One that cannot be reached now (down, restarting: the indexer was restarted
    during an outage) is waited for, with backoff, until it answers or the indexer is stopped (None); one that
    is not there (no file, no schema) is an error at once, as for every command."""
    delay = 0.5
    while True:
        try:
            return existing_engine(settings)
        except DatabaseMissing as exc:
            cause = exc.__cause__
            if not wait or not isinstance(cause, sa.exc.OperationalError):
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code=1) from exc
            log.warning("database unreachable; waiting for it", error=_first_line(cause))
        if stop.wait(delay):
            return None
        delay = min(delay * 2, 10.0)


def _first_line(exc: sa.exc.DBAPIError) -> str:
    return (str(exc.orig) or type(exc.orig).__name__).splitlines()[0]


def reindex(
    index: Annotated[
        list[str] | None, typer.Option(help=f"Index to rebuild (default all): {', '.join(DEFINITIONS)}")
    ] = None,
) -> None:
    """Rebuild indexes from the database: into a fresh index, then an atomic swap."""
    unknown = set(index or ()) - set(DEFINITIONS)
    if unknown:
        raise typer.BadParameter(f"unknown index {sorted(unknown)}; indexes are {sorted(DEFINITIONS)}")
    settings = get_settings()
    db, search = service_engine(settings), make_search_engine(settings)
    started = time.perf_counter()
    counts = rebuild(db, search, index or None)
    typer.echo(f"reindexed {json.dumps(counts)} in {time.perf_counter() - started:.1f}s")
    search.close()


@search_cli.command("status")
def search_status() -> None:
    """The outbox backlog, and whether each index holds exactly what the database says it should."""
    settings = get_settings()
    db, search = service_engine(settings), make_search_engine(settings)
    healthy = search.healthy()
    state = status(db, search if healthy else None)
    typer.echo(json.dumps({"engine": search.kind, "healthy": healthy, **asdict(state)}, indent=2))
    search.close()
    if not (healthy and state.consistent):
        raise typer.Exit(1)
