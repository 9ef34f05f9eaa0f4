"""Per-request GraphQL context.

Strawberry resolves sibling fields concurrently, so resolvers never share a session: each call to
`run_db` takes its own session in a worker thread (the event loop never blocks on the database).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import BaseContext

from app.auth.principal import ANONYMOUS, Principal
from app.core.config import Settings
from app.core.db import reader_session, writer_session

T = TypeVar("T")


class Context(BaseContext):
    def __init__(self, engine: Engine, settings: Settings, principal: Principal = ANONYMOUS) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        # Who is asking: every resolver passes it to the services, which apply the same rules as REST.
        self.principal = principal

    async def run_db(self, work: Callable[[Session], T], *, writes: bool = False) -> T:
        """`work` in a session of its own, in a worker thread; `writes`: a mutation's (app.core.db)."""

        def _in_thread() -> T:
            with (writer_session if writes else reader_session)(self.engine) as session:
                return work(session)

        return await run_in_threadpool(_in_thread)

    @cached_property
    def loaders(self) -> dict[str, Any]:
        """DataLoaders live for one request (created on first use)."""
        return {}
