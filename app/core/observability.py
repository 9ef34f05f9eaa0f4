"""Structured logs carrying a request id, and Prometheus metrics, from one ASGI middleware."""

from __future__ import annotations

import atexit
import hmac
import logging
import logging.handlers
import os
import queue
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict

from app.core.config import Environment, Settings
from app.core.errors import Problem, problem_response

REQUEST_ID_HEADER = "x-request-id"

REQUESTS = Counter("citymarket_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "citymarket_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ERRORS = Counter("citymarket_http_errors_total", "HTTP answers with status >= 500", ["method", "route"])


def configure_logging(settings: Settings) -> None:
    """structlog and the standard library's loggers (uvicorn, alembic) through one queue, rendered by a thread.

    The event loop only enqueues a record: rendering and writing happen in a listener thread, so that a slow
    terminal or a long traceback never stalls the requests in flight. Tracebacks are plain text, without
    each frame's locals: those took rich ~30 s to render for one error (and may hold secrets).
    """
    global _listener
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.json_logs
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, _capture_exc_info, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    output = logging.StreamHandler(sys.stderr)
    output.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,  # plain text: the renderers never see exc_info
                renderer,
            ],
        )
    )
    if _listener is not None:
        _listener.stop()  # reconfigured (tests make several apps): flush what the previous one holds
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, output, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_EnqueueHandler(records)]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True  # the middleware logs each request itself


_listener: logging.handlers.QueueListener | None = None


@atexit.register
def _flush_logs() -> None:
    if _listener is not None:
        _listener.stop()


class _EnqueueHandler(logging.handlers.QueueHandler):
    """Hands the record over as it is: the standard QueueHandler would render it here, in the caller."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def _capture_exc_info(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    # `exc_info=True` means "the exception being handled": resolve it here, the listener thread has none.
    if event_dict.get("exc_info") is True:
        event_dict["exc_info"] = sys.exc_info()
    return event_dict


class ObservabilityMiddleware:
    """Assigns a request id (or keeps the caller's), logs one line per request, records metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("citymarket.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            if status >= 500:
                ERRORS.labels(method, route).inc()
            if route not in ("/metrics", "/healthz"):
                self.log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            text: str = value.decode("latin-1")
            # Only accept ids that are safe to echo and log.
            if 0 < len(text) <= 64 and all(c.isalnum() or c in "-_." for c in text):
                return text
    return None


def metrics_endpoint(settings: Settings) -> Callable[[Request], Response]:
    """/metrics behind CITYMARKET_METRICS_TOKEN (bearer); without one, open outside production only."""
    expected = settings.metrics_token.encode()
    production = settings.env is Environment.production

    def endpoint(request: Request) -> Response:
        if not expected:
            if production:
                return problem_response(
                    Problem("Not found.", status=404, type_="not-found", title="Not found"), request
                )
            return metrics_response(request)
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        # Constant time: the comparison must not tell how much of a guess was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
            problem = Problem(
                "/metrics needs `Authorization: Bearer` with the token set in CITYMARKET_METRICS_TOKEN.",
                status=401,
                type_="unauthorized",
                title="Unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
            return problem_response(problem, request)
        return metrics_response(request)

    return endpoint


def metrics_response(_request: Request) -> Response:
    registry: CollectorRegistry = DEFAULT_REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several API workers: aggregate every worker's samples.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
