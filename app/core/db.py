"""Engine and sessions.

The session model is synchronous on purpose, for the whole app: SQLModel, Alembic and Authlib's
authorization server are synchronous, FastAPI runs sync routes in its thread pool, and GraphQL resolvers
hand their database work to that pool with a session of their own. The event loop never touches the
database. Services never commit: the request, CLI command or worker task is the unit of work.

On SQLite, a unit of work that will write says so (`writer_session`, `unit_of_work`; REST's unsafe methods and
GraphQL's mutations) and begins with `BEGIN IMMEDIATE`: it takes the one write lock before its first read and
concurrent writers queue for it (the busy timeout). A deferred transaction that reads, then writes, cannot be
upgraded while another connection writes: SQLite fails it at once ("database is locked"), whatever the timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from app.core.config import Settings

# Session.info key: this session's transactions write (SQLite: BEGIN IMMEDIATE).
WRITES = "citymarket.writes"


def make_engine(settings: Settings) -> Engine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=settings.database_echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        echo=settings.database_echo,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
    )


class DatabaseMissing(Exception):
    """The configured database does not exist, or has no schema: the message says where it looked."""


def existing_engine(settings: Settings) -> Engine:
    """The engine of a database that exists and is migrated, for commands that work on the service's data:
    they never create an empty database (nor the data dir) as a side effect of a wrong directory."""
    url = settings.effective_database_url
    path = make_url(url).database if settings.is_sqlite else None
    if path and path != ":memory:" and not Path(path).is_file():
        raise DatabaseMissing(f"no citymarket database at {path}; {_where(settings)}")
    engine = make_engine(settings)
    try:
        migrated = sa.inspect(engine).has_table("alembic_version")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise DatabaseMissing(f"cannot open the database at {_shown(url)}: {exc.orig}; {_where(settings)}") from exc
    if not migrated:
        engine.dispose()
        raise DatabaseMissing(f"the database at {_shown(url)} has no schema: run `citymarket migrate` (or `serve`)")
    return engine


def _where(settings: Settings) -> str:
    return (
        f"the data dir is {settings.data_dir} (CITYMARKET_DATA_DIR, default ./var of the current directory): "
        "run this where `citymarket serve` runs, or set CITYMARKET_DATA_DIR (or CITYMARKET_DATABASE_URL)"
    )


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and pysqlite's documented SAVEPOINT workaround."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins (needed for SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


@event.listens_for(Session, "after_begin")
def _writer_takes_the_lock(session: Session, _transaction: Any, connection: Any) -> None:
    if not session.info.get(WRITES) or connection.dialect.name != "sqlite":
        return
    # The engine's "begin" opened a deferred transaction and nothing has run in it yet: begin it again as
    # IMMEDIATE, which waits its turn for the write lock instead of failing at its first write.
    connection.exec_driver_sql("ROLLBACK")
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def writer_session(engine: Engine) -> Session:
    """A session whose every transaction writes (each begins by taking SQLite's write lock)."""
    return Session(engine, expire_on_commit=False, info={WRITES: True})


def reader_session(engine: Engine) -> Session:
    """A session that only reads (it never waits for the write lock)."""
    return Session(engine, expire_on_commit=False)


def close_session(session: Session) -> None:
    """Close `session`, rolling back what it left open. A connection the database dropped (an outage, a
    restart) has nothing left to roll back: it is discarded instead of raising, so that closing a session never
    fails a request that has already answered (or been answered 503 for the same outage)."""
    try:
        session.close()
    except sa.exc.DBAPIError as exc:
        if not (exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError)):
            raise
        session.invalidate()


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A writing session that commits when the block succeeds and rolls back when it raises."""
    with writer_session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
