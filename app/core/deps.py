"""FastAPI dependencies shared by every router.

FastAPI runs a plain `def` dependency in the thread pool, one hop per dependency per request (a generator
dependency: two, one to enter and one to leave). The dependencies here that neither block nor touch the
database are `async def`, so they run on the event loop; the session's own I/O (its close, which hands the
connection back to the pool) still happens in the pool.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.db import close_session, reader_session, writer_session
from app.core.errors import InvalidInput
from app.core.pagination import PageRequest
from app.core.text import control_character_problem

MAX_PAGE_SIZE = 100
# A cursor is unpadded base64url (app/core/pagination.py); longer than any sort key this service issues.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"
CURSOR_MAX_LENGTH = 4096


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


# Methods that never write: their sessions read only; any other method's session is a writer's.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def reads_only(request: Request) -> None:
    """A route dependency: this route's own session only reads, whatever the method (GraphQL, whose
    mutations write in sessions of their own: a writer's session here would hold the lock they wait for)."""
    request.state.reads_only = True


async def plain_parameters(request: Request) -> None:
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


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request. Read routes never commit; write routes commit once, at the end. (The engine
    is the app's, read here rather than through `get_engine`: one dependency fewer to solve per request.)

    Making a session touches no database (it connects at its first statement); closing one that did hands
    its connection back (a rollback): that happens in the thread pool, never on the event loop.
    """
    reads = request.method in SAFE_METHODS or getattr(request.state, "reads_only", False)
    session = (reader_session if reads else writer_session)(request.app.state.engine)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(close_session, session)  # a dead connection must not turn into an ASGI error
        else:
            close_session(session)


_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def closes_session(endpoint: _Endpoint) -> _Endpoint:
    """For a plain `def` route whose answer is built once it returns (a `json_response`, no stream): its
    `session` is closed in the endpoint's own thread-pool hop, so that `get_session` finds nothing left to hand
    back and spares the request a second hop (a read's rollback cost a third of its framework time, issue 14).
    A route that streams from its session after returning must not use this."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            close_session(kwargs["session"])

    return run  # type: ignore[return-value]


async def page_request(
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
