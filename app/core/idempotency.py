"""Idempotent creates: the same Idempotency-Key and body replays the first answer; the same key with
another body is refused. The stored answer commits in the same transaction as the create itself, so a
failed create stores nothing and can be retried with the same key. GraphQL's creates give the key as
the `idempotencyKey` argument to the same `run_once`, under REST's request line, so a key spans both faces.

A record answers replays for `idempotency_ttl_seconds` (24 h by default): later, the same key is a new request,
and each keyed create deletes a few of the oldest expired records, so that the table stays about one window's
worth of keys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.core.config import Settings
from app.core.errors import InvalidInput, Problem
from app.core.idempotency_models import IdempotencyRecord
from app.core.models import utcnow

HEADER = "Idempotency-Key"
# Expired records deleted by one keyed create: more than it adds, so the backlog of a quiet period drains.
PURGE_BATCH = 100

Out = TypeVar("Out")


class IdempotencyKeyReused(Problem):
    status, type_, title = 422, "idempotency-key-reused", "Idempotency key reused"


def _fingerprint(method: str, path: str, payload: Any) -> str:
    canonical = json.dumps(jsonable_encoder(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Once(Generic[Out]):
    """What `run_once` answers: the body (JSON), Location and status as REST answers them, and `created`,
    what `create` returned, when it ran in this call (None when `replayed`)."""

    body: Any
    location: str
    status_code: int
    replayed: bool
    created: Out | None = None

    @property
    def id(self) -> int:
        """The id of the object created (the first time, on a replay): every create's body carries it."""
        return int(self.body["id"])


def run_once(
    session: Session,
    principal: Principal,
    key: str | None,
    method: str,
    path: str,
    payload: Any,
    create: Callable[[], tuple[Out, str]],
    *,
    ttl: timedelta,
    status_code: int = 201,
    name: str = HEADER,
) -> Once[Out]:
    """Run `create` (which returns the body and its Location) at most once per caller and key, and commit.

    `method` and `path` name the operation (REST's request line, which GraphQL's creates use too, so that a key
    works across both faces); `payload` is the validated input. `name` is how the caller gave the key, for the
    refusals (the header, or a GraphQL argument). `ttl`: how long a record answers replays."""
    if key is None:
        body, location = create()
        session.commit()
        return Once(jsonable_encoder(body), location, status_code, replayed=False, created=body)
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidInput(f"{name} must be 1 to 200 printable characters.")
    fingerprint = _fingerprint(method, path, payload)
    _serialise_key(session, principal.subject, key)
    expired_before = utcnow() - ttl
    _purge_expired(session, expired_before)
    existing = _find(session, principal.subject, key)
    if existing is not None and existing.created_at >= expired_before:
        return _checked_replay(existing, fingerprint, name)
    if existing is not None:  # too old to answer for: the key is free again
        session.delete(existing)
        session.flush()
    body, location = create()
    encoded = jsonable_encoder(body)
    session.add(
        IdempotencyRecord(
            subject=principal.subject,
            key=key,
            method=method,
            path=path,
            request_hash=fingerprint,
            status_code=status_code,
            response_body=encoded,
            location=location,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key won the race: answer as it did.
        session.rollback()
        winner = _find(session, principal.subject, key)
        if winner is None:
            raise
        return _checked_replay(winner, fingerprint, name)
    return Once(encoded, location, status_code, replayed=False, created=body)


def create_once(
    session: Session,
    principal: Principal,
    request: Request,
    payload: Any,
    create: Callable[[], tuple[Any, str]],
    status_code: int = 201,
) -> JSONResponse:
    """REST's `run_once`: the key from the Idempotency-Key header, the answer as a response (a replay says so)."""
    once = run_once(
        session,
        principal,
        request.headers.get(HEADER),
        request.method,
        request.url.path,
        payload,
        create,
        ttl=record_ttl(request.app.state.settings),
        status_code=status_code,
    )
    if not once.replayed:
        return JSONResponse(once.body, status_code=once.status_code, headers={"Location": once.location})
    headers = {"Idempotent-Replayed": "true"}
    if once.location:
        headers["Location"] = once.location
    return JSONResponse(once.body, status_code=once.status_code, headers=headers)


def record_ttl(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.idempotency_ttl_seconds)


def _purge_expired(session: Session, expired_before: datetime) -> None:
    # Ids grow with time: the oldest rows by id are the first to expire, and the primary key finds them
    # without an index on created_at (a row whose clock ran behind waits for a later purge).
    oldest = select(IdempotencyRecord.id).order_by(col(IdempotencyRecord.id)).limit(PURGE_BATCH)
    session.execute(
        sa.delete(IdempotencyRecord)
        .where(
            col(IdempotencyRecord.id).in_(oldest.scalar_subquery()), col(IdempotencyRecord.created_at) < expired_before
        )
        .execution_options(synchronize_session=False)
    )


def _serialise_key(session: Session, subject: str, key: str) -> None:
    """Requests with the same key take turns, so that a retry sent while the first try is still running (its
    answer was lost: a worker killed, a proxy timeout) waits for it and replays its record, instead of
    creating a second object or failing on the first one's unique columns. PostgreSQL: a transaction-level
    advisory lock on the (caller, key). SQLite: a writer holds the one write lock already (app.core.db)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"idempotency\n{subject}\n{key}".encode()).digest()
    session.execute(
        sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": int.from_bytes(digest[:8], "big", signed=True)}
    )


def _find(session: Session, subject: str, key: str) -> IdempotencyRecord | None:
    return session.exec(
        select(IdempotencyRecord).where(IdempotencyRecord.subject == subject, IdempotencyRecord.key == key)
    ).first()


def _checked_replay(record: IdempotencyRecord, fingerprint: str, name: str) -> Once[Any]:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            f"{name} {record.key!r} was already used for a different request ({record.method} {record.path} "
            "with another body). Use a new key for a new request."
        )
    return Once(record.response_body, record.location, record.status_code, replayed=True)
