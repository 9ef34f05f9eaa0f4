"""Optimistic concurrency for updates: ETags on reads, If-Match on writes (docs/design.md §6).

Each updatable row has an integer `version`. Its ETag is `"<kind>-<id>-v<version>"`. An update must send
If-Match with the current ETag (missing: 428, stale: 412), and the version is bumped by a conditional
UPDATE ... WHERE version = expected, so that of two clients racing with the same ETag exactly one wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.core.db import WRITES
from app.core.errors import PreconditionFailed, PreconditionRequired
from app.core.ids import parse_bounded


def etag(kind: str, object_id: int, version: int) -> str:
    return f'"{kind}-{object_id}-v{version}"'


def set_etag(response: Response, kind: str, object_id: int, version: int) -> None:
    response.headers["ETag"] = etag(kind, object_id, version)


def not_modified(request: Request, current: str) -> bool:
    """True when If-None-Match already names the current representation (answer 304)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or current in candidates


def expected_version(request: Request, kind: str, object_id: int) -> int:
    """The version the client last saw, read from If-Match; 428 when missing, 412 when not ours."""
    header = request.headers.get("if-match")
    if not header:
        raise PreconditionRequired(
            f"Updating this {kind} needs an If-Match header with the ETag of your last read "
            f"(GET it first), so that you cannot overwrite someone else's change unknowingly."
        )
    tag = header.strip().removeprefix("W/")
    prefix = f'"{kind}-{object_id}-v'
    version = parse_bounded(tag[len(prefix) : -1]) if tag.startswith(prefix) and tag.endswith('"') else None
    if version is None:
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag of this {kind}; GET it again.")
    return version


def claim_version(session: Session, model: Any, object_id: int, expected: int) -> int:
    """Atomically bump the row's version from `expected`; 412 when someone else changed it first."""
    result = session.execute(
        sa.update(model)
        .where(model.id == object_id, model.version == expected)
        .values(version=expected + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.execute(sa.select(model.version).where(model.id == object_id)).scalar_one_or_none()
        raise PreconditionFailed(
            f"This {model.__tablename__} changed since you read it (your version {expected}, "
            f"now {current}); GET it again and reapply your change.",
            extra={"current_etag": etag(model.__tablename__, object_id, current) if current else None},
        )
    return expected + 1


ExpectedVersion = Callable[[], int]
"""How a write service learns the version the client last saw. REST passes `if_match(request, kind, id)`
(If-Match: 428 when missing); another face passes its own argument. Services call it only after the
permission checks, so that a caller who may not touch the object learns nothing more about it."""


def if_match(request: Request, kind: str, object_id: int) -> ExpectedVersion:
    return lambda: expected_version(request, kind, object_id)


def lock_for_write(session: Session) -> None:
    """Make this unit of work the database's writer now, before it reads what it will change.

    PostgreSQL needs nothing: `claim_version`'s conditional UPDATE waits for a competing writer's row lock
    and then re-checks the version, so the loser of a race gets its 412. SQLite (WAL) cannot upgrade a
    transaction that has already read (the caller's authentication did) while another connection writes:
    it fails at once with "database is locked". So end that read-only transaction, and begin one whose
    first statement takes the write lock (waiting its turn, up to the busy timeout): what it reads next
    is current. Call it first in a write, before any change.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("lock_for_write() must come before any change in the unit of work")
    if session.info.get(WRITES):
        return  # a writer's session holds the write lock since its transaction began (app.core.db)
    if session.in_transaction():
        session.commit()  # nothing was written: this only ends the read transaction
    # A write that changes no row still takes SQLite's write lock (any table would do).
    session.execute(sa.text("UPDATE audit_event SET id = id WHERE 1 = 0"))


def with_etag(response: JSONResponse, kind: str) -> JSONResponse:
    """Add the ETag of a created object (or of the replay of its creation), from the body's id and version."""
    if response.status_code < 300:
        body = json.loads(bytes(response.body))
        response.headers["ETag"] = etag(kind, body["id"], body["version"])
    return response
