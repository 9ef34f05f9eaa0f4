"""Per-request GraphQL context.

Strawberry resolves sibling fields concurrently, so resolvers never share a session: each call to
`run_db` takes its own session in a worker thread (the event loop never blocks on the database).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cached_property
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import BaseContext

from app.auth.principal import ANONYMOUS, Principal
from app.core.config import Settings
from app.core.db import close_session, reader_session, writer_session
from app.core.errors import UNEXPECTED_ERROR, database_unavailable

T = TypeVar("T")
_MISSING = object()
log = structlog.get_logger(__name__)


class UnexpectedDatabaseError(Exception):
    """A database error other than its being unavailable (a bug, a constraint the service did not check):
    the client reads REST's generic message, never the driver's (which quotes SQL, hosts and values); the log
    has it in full (the cause). Code INTERNAL_SERVER_ERROR (app/graphql/schema.py)."""

    def __init__(self) -> None:
        super().__init__(UNEXPECTED_ERROR)


class Context(BaseContext):
    def __init__(self, engine: Engine, settings: Settings, principal: Principal = ANONYMOUS) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        # Who is asking: every resolver passes it to the services, which apply the same rules as REST.
        self.principal = principal
        # Set when a database call found the database down or busy: the answer is then 503 with Retry-After
        # (app/graphql/router.py), as REST's is.
        self.database_unavailable = False
        self._converted: dict[tuple[str, Hashable], Any] = {}

    async def run_db(self, work: Callable[[Session], T], *, writes: bool = False) -> T:
        """`work` in a session of its own, in a worker thread; `writes`: a mutation's (app.core.db).

        The database being unavailable raises REST's 503 problem (a mutation answers it as SERVICE_UNAVAILABLE);
        any other database error raises `UnexpectedDatabaseError`, whose message is generic."""

        def _in_thread() -> T:
            session = (writer_session if writes else reader_session)(self.engine)
            try:
                return work(session)
            finally:
                close_session(session)

        try:
            return await run_in_threadpool(_in_thread)
        except sa.exc.OperationalError as exc:
            self.database_unavailable = True
            log.warning("database unavailable", path="/graphql", error=str(exc.orig))
            raise database_unavailable() from exc
        except sa.exc.SQLAlchemyError as exc:
            raise UnexpectedDatabaseError() from exc

    def converted(self, kind: str, key: Hashable, convert: Callable[[], T]) -> T:
        """The GraphQL object of `kind` for `key` (a loaded row's id), made by `convert` once per request: the
        same KPI or vendor under fifty parents is converted once, not fifty times."""
        found = self._converted.get((kind, key), _MISSING)
        if found is _MISSING:
            found = self._converted[(kind, key)] = convert()
        return found  # type: ignore[no-any-return]

    @cached_property
    def loaders(self) -> dict[str, Any]:
        """DataLoaders live for one request (created on first use)."""
        return {}
