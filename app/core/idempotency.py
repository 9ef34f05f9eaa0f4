"""Idempotent creates: the same Idempotency-Key and body replays the first answer; the same key with
another body is refused. The stored answer commits in the same transaction as the create itself, so a
failed create stores nothing and can be retried with the same key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.auth.principal import Principal
from app.core.errors import InvalidInput, Problem
from app.core.idempotency_models import IdempotencyRecord

HEADER = "Idempotency-Key"


class IdempotencyKeyReused(Problem):
    status, type_, title = 422, "idempotency-key-reused", "Idempotency key reused"


def _fingerprint(request: Request, payload: Any) -> str:
    canonical = json.dumps(jsonable_encoder(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()


def _replay(record: IdempotencyRecord) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    return JSONResponse(record.response_body, status_code=record.status_code, headers=headers)


def create_once(
    session: Session,
    principal: Principal,
    request: Request,
    payload: Any,
    create: Callable[[], tuple[Any, str]],
    status_code: int = 201,
) -> JSONResponse:
    """Run `create` (which returns the response body and its Location) at most once per key, and commit."""
    key = request.headers.get(HEADER)
    if key is None:
        body, location = create()
        session.commit()
        return JSONResponse(jsonable_encoder(body), status_code=status_code, headers={"Location": location})
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidInput(f"{HEADER} must be 1 to 200 printable characters.")
    fingerprint = _fingerprint(request, payload)
    existing = _find(session, principal.subject, key)
    if existing is not None:
        return _checked_replay(existing, fingerprint)
    body, location = create()
    encoded = jsonable_encoder(body)
    session.add(
        IdempotencyRecord(
            subject=principal.subject,
            key=key,
            method=request.method,
            path=request.url.path,
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
        return _checked_replay(winner, fingerprint)
    return JSONResponse(encoded, status_code=status_code, headers={"Location": location})


def _find(session: Session, subject: str, key: str) -> IdempotencyRecord | None:
    return session.exec(
        select(IdempotencyRecord).where(IdempotencyRecord.subject == subject, IdempotencyRecord.key == key)
    ).first()


def _checked_replay(record: IdempotencyRecord, fingerprint: str) -> JSONResponse:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            f"{HEADER} {record.key!r} was already used for a different request ({record.method} {record.path} "
            "with another body). Use a new key for a new request."
        )
    return _replay(record)
