"""Availability: an unhandled error must not stall the event loop (issue 12)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from app.core.config import Environment
from app.core.observability import configure_logging
from app.main import create_app
from tests.conftest import TestDatabase
from tests.search.meilisearch_server import _free_port  # a port nobody else's test or run holds

# Released by the test once /healthz has answered: until then, rendering the failed request's locals blocks.
RENDERED_LOCALS_MAY_RETURN = threading.Event()


class _SlowRepr:
    """A local whose repr takes as long as the test lets it, as the locals of a real request did (rich
    rendered ~12,000 lines): a server that renders it on its event loop cannot answer anything else."""

    def __repr__(self) -> str:
        RENDERED_LOCALS_MAY_RETURN.wait(timeout=30)
        return "slow"


def _boom() -> None:
    payload = _SlowRepr()
    raise RuntimeError(f"boom {id(payload)}")


@contextmanager
def _served(app: FastAPI, port: int) -> Iterator[str]:
    """The app under a real uvicorn, in a thread of this process, on a loopback port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_unhandled_error_does_not_stall_the_server(db: TestDatabase, capfd: pytest.CaptureFixture[str]) -> None:
    # dev: the console renderer, which rendered the traceback (with every frame's locals) on the event loop.
    app = create_app(db.settings(env=Environment.dev))
    app.add_api_route("/boom", _boom)
    # A connection per request: uvicorn closes the one whose request raised, and a reused one would race it.
    fresh = httpx.Limits(max_keepalive_connections=0)
    RENDERED_LOCALS_MAY_RETURN.clear()
    # As in the report: the 500, and a /healthz sent 0.3 s later. No timing is asserted: /healthz must be
    # answered at all while a blocked rendering would still hold the loop (it is released only afterwards).
    with (
        _served(app, _free_port()) as base,
        httpx.Client(base_url=base, timeout=10, limits=fresh) as client,
        ThreadPoolExecutor(1) as pool,
    ):
        failing = pool.submit(client.get, "/boom")
        time.sleep(0.3)
        try:
            health = client.get("/healthz")
        except httpx.TimeoutException:
            pytest.fail("/healthz got no answer while the failed request was logged: the event loop was blocked")
        finally:
            RENDERED_LOCALS_MAY_RETURN.set()
        failed = failing.result()
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert health.status_code == 200
    configure_logging(db.settings())  # flushes the listener thread's queue
    logged = capfd.readouterr().err
    assert "RuntimeError: boom" in logged  # still logged, with its traceback
    assert "slow" not in logged  # and without the frames' locals
