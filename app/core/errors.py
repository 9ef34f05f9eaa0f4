"""Every error is `application/problem+json` (RFC 9457): services raise `Problem`s, handlers render them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path

if TYPE_CHECKING:  # FastAPI itself only where the handlers are installed: CLI commands raise Problems too
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://citymarket.example/problems/"

log = structlog.get_logger(__name__)


class Problem(Exception):
    """A client-facing error. `type_` is a short slug, documented under PROBLEM_BASE."""

    status: int = 400
    type_: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        type_: str | None = None,
        title: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if type_ is not None:
            self.type_ = type_
        if title is not None:
            self.title = title
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type_,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotFound(Problem):
    status, type_, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, type_, title = 409, "conflict", "Conflict"


class Forbidden(Problem):
    status, type_, title = 403, "forbidden", "Forbidden"


class Unauthorized(Problem):
    status, type_, title = 401, "unauthorized", "Unauthorized"


class InvalidInput(Problem):
    """A request that is well-formed but breaks a rule of the domain (422)."""

    status, type_, title = 422, "invalid-input", "Invalid input"

    def __init__(self, detail: str, *, errors: Sequence[Mapping[str, Any]] = (), **kwargs: Any) -> None:
        extra = dict(kwargs.pop("extra", {}) or {})
        if errors:
            extra["errors"] = [dict(e) for e in errors]
        super().__init__(detail, extra=extra, **kwargs)


class PreconditionFailed(Problem):
    status, type_, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(Problem):
    status, type_, title = 428, "precondition-required", "Precondition required"


class PayloadTooLarge(Problem):
    status, type_, title = 413, "payload-too-large", "Payload too large"


class ServiceUnavailable(Problem):
    status, type_, title = 503, "service-unavailable", "Service unavailable"


# What both faces answer when the database is down or busy (never the driver's message: it names hosts, ports
# and SQL). Nothing was written (the unit of work rolled back), so the client may simply try again.
DATABASE_UNAVAILABLE = "The database is busy or unavailable; nothing was changed. Retry in a moment."
RETRY_AFTER_SECONDS = 1
# What both faces answer for any other error of the database, and every unexpected one (it is logged in full).
UNEXPECTED_ERROR = "An unexpected error occurred; it has been logged. Quote the X-Request-ID header when reporting it."


def database_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(DATABASE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        errors.append(
            {
                # "query.limit", "body.kpi_impacts.0.effect": where the bad value is.
                "field": ".".join(location),
                "message": error.get("msg", "invalid"),
                "type": error.get("type", "invalid"),
            }
        )
    return errors


def invalid_request(errors: list[dict[str, Any]]) -> InvalidInput:
    """The 422 of parameters that break their schema's constraints, naming each bad one (`field`, `message`,
    `type`): REST's for every request, GraphQL's for the arguments it validates with REST's models (list
    filters), so that both faces refuse the same value with the same words."""
    names = ", ".join(sorted({e["field"] for e in errors}))
    detail = f"Invalid request: {names}. " + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return InvalidInput(detail, errors=errors, type_="validation-error", title="Validation error")


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route takes at `path`. Starlette's 405 names only the methods of the first route
    whose path matched, and a path served by several routes (GET and PATCH on /cities/{id}) has one each."""
    from fastapi import routing

    methods: set[str] = set()
    for context in routing.iter_route_contexts(app.routes):
        if context.path and context.methods and compile_path(context.path)[0].match(path):
            methods |= set(context.methods)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        if errors and all(e["type"] == "json_invalid" for e in errors):
            # Not JSON at all is a malformed request (400), not well-formed content that breaks a rule (422).
            position = errors[0]["field"].removeprefix("body.")
            detail = f"The body is not valid JSON: {errors[0]['message']} at position {position}."
            return problem_response(Problem(detail, type_="malformed-json", title="Malformed JSON"), request)
        return problem_response(invalid_request(errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route matches {request.method} {request.url.path}."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path)) or headers.get("Allow", "")
        problem = Problem(
            detail,
            status=exc.status_code,
            type_=titles.get(exc.status_code, "http-error").lower().replace(" ", "-"),
            title=titles.get(exc.status_code, "HTTP error"),
            headers=headers,
        )
        return problem_response(problem, request)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        # The database is down, or busy (SQLite: a writer waited out the busy timeout for the write lock):
        # nothing was written (the unit of work rolled back), so the client may simply try again.
        log.warning("database unavailable", path=request.url.path, error=str(exc.orig))
        return problem_response(database_unavailable(), request)

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client closed the connection before its body arrived: nobody is left to answer, and it is not
        # the service's error (it was logged as an unhandled 500 with a traceback).
        log.info("client disconnected", path=request.url.path)
        return Response(status_code=499)  # nginx's "client closed request"; never reaches anyone

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace to the client; the log keeps it with the request id.
        log.exception("unhandled error", path=request.url.path)
        problem = Problem(
            UNEXPECTED_ERROR,
            status=500,
            type_="internal-error",
            title="Internal server error",
        )
        return problem_response(problem, request)
