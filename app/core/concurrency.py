"""Optimistic concurrency for updates: ETags on reads, If-Match on writes (DESIGN.md section 8).

Each updatable row has an integer `version`. Its ETag is `"<kind>-<id>-v<version>"`. An update must send
If-Match with the current ETag (missing: 428, stale: 412), and the version is bumped by a conditional
UPDATE ... WHERE version = expected, so that of two clients racing with the same ETag exactly one wins.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Request, Response
from sqlmodel import Session

from app.core.errors import PreconditionFailed, PreconditionRequired


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
    if not (tag.startswith(prefix) and tag.endswith('"') and tag[len(prefix) : -1].isdigit()):
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag of this {kind}; GET it again.")
    return int(tag[len(prefix) : -1])


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
