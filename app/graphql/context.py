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

T = TypeVar("T")


class Context(BaseContext):
    def __init__(self, engine: Engine, settings: Settings, principal: Principal = ANONYMOUS) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        # Who is asking: every resolver passes it to the services, which apply the same rules as REST.
        self.principal = principal

    async def run_db(self, work: Callable[[Session], T]) -> T:
        def _in_thread() -> T:
            with Session(self.engine, expire_on_commit=False) as session:
                return work(session)

        return await run_in_threadpool(_in_thread)

    @cached_property
    def loaders(self) -> dict[str, Any]:
        """DataLoaders live for one request (created on first use)."""
        return {}
