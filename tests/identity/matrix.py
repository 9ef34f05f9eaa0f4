"""The permission matrix's vocabulary: a row per write endpoint, and how a row builds its calls.

Rows live in one module per area (rows_catalogue.py, rows_city.py) so that areas grow independently;
tests/identity/test_permission_matrix.py runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import writer_session
from app.identity.models import Role
from tests.identity.conftest import World

Which = Literal["own", "other"]


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    # e.g. If-Match with the ETag of an object the builder created (updates need it).
    headers: dict[str, str] | None = None
    # A raw body instead of `json` (e.g. a CSV upload; give its Content-Type in `headers`).
    content: bytes | None = None


@dataclass
class Scenario:
    """What a builder gets: the world's ids, and this cell's database to prepare objects in."""

    world: World
    engine: Engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A writing session, like the app's units of work (`writer_session`): on SQLite it takes the write
        lock before its first read, so that a background writer (the in-process indexer marking outbox rows
        done) makes it wait its turn instead of failing it with "database is locked" as it reads, then writes."""
        with writer_session(self.engine) as session:
            yield session
            session.commit()


Builder = Callable[[Scenario, Which], Call]


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # the route's template, as in app.routes
    build: Builder
    own: frozenset[Role]  # who succeeds on their own object
    other: frozenset[Role] = frozenset({Role.admin})  # who succeeds on someone else's
    success: frozenset[int] = frozenset({200, 201, 204})
    # An endpoint for people without an account or a token (password reset): anonymous callers succeed too.
    anonymous: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def expected(self, role: Role | None, which: Which) -> bool:
        if role is None:
            return self.anonymous
        return role in (self.own if which == "own" else self.other)


def ab(which: Which) -> str:
    return "a" if which == "own" else "b"
