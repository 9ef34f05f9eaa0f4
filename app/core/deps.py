"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import close_session, reader_session, writer_session
from app.core.errors import InvalidInput
from app.core.pagination import PageRequest
from app.core.text import control_character_problem

MAX_PAGE_SIZE = 100
# A cursor is unpadded base64url (app/core/pagination.py); longer than any sort key this service issues.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"
CURSOR_MAX_LENGTH = 4096


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


# Methods that never write: their sessions read only; any other method's session is a writer's.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def reads_only(request: Request) -> None:
    """A route dependency: this route's own session only reads, whatever the method (GraphQL, whose
    mutations write in sessions of their own: a writer's session here would hold the lock they wait for)."""
    request.state.reads_only = True


def plain_parameters(request: Request) -> None:
    """An app-wide dependency: query and path parameters (names and values) are single-line text, under the
    rule that input schemas apply to bodies (app.core.text): a NUL, control or bidi-override character is a 422
    naming the parameter, as a bad value of a declared parameter is."""
    errors = []
    given = [("query", name, value) for name, value in request.query_params.multi_items()]
    given += [("path", name, value) for name, value in request.path_params.items() if isinstance(value, str)]
    for where, name, value in given:
        reason = control_character_problem(name, multiline=False) or control_character_problem(value, multiline=False)
        if reason:
            errors.append({"field": f"{where}.{name}", "message": reason, "type": "control_character"})
    if errors:
        names = ", ".join(sorted({e["field"] for e in errors}))
        details = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise InvalidInput(
            f"Invalid request: {names}. {details}", errors=errors, type_="validation-error", title="Validation error"
        )


def get_session(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One session per request. Read routes never commit; write routes commit once, at the end."""
    reads = request.method in SAFE_METHODS or getattr(request.state, "reads_only", False)
    session = (reader_session if reads else writer_session)(engine)
    try:
        yield session
    finally:
        close_session(session)  # after the answer: a dead connection must not turn into an ASGI error


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (1-100).")] = 20,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            max_length=CURSOR_MAX_LENGTH,
            description="Opaque: the `next_cursor` of the previous page with the same filters and sort; omit for "
            "the first page. A string that this service did not issue is answered 422.",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


SessionDep = Annotated[Session, Depends(get_session)]
PageDep = Annotated[PageRequest, Depends(page_request)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
