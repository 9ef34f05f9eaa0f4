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


class _SlowRepr:
    """A local whose repr takes a while, as the locals of a real request did (rich rendered ~12,000 lines)."""

    def __repr__(self) -> str:
        time.sleep(3)
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
    # As in the report: the 500, and a /healthz sent 0.3 s later.
    with (
        _served(app, _free_port()) as base,
        httpx.Client(base_url=base, timeout=10, limits=fresh) as client,
        ThreadPoolExecutor(1) as pool,
    ):
        failing = pool.submit(client.get, "/boom")
        time.sleep(0.3)
        started = time.perf_counter()
        health = client.get("/healthz")
        elapsed = time.perf_counter() - started
        failed = failing.result()
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert health.status_code == 200
    # Bounded loopback check: it was ~30 s while the traceback rendered; an idle loop answers in milliseconds.
    assert elapsed < 1.0, f"/healthz took {elapsed:.2f}s after a 500"
    configure_logging(db.settings())  # flushes the listener thread's queue
    logged = capfd.readouterr().err
    assert "RuntimeError: boom" in logged  # still logged, with its traceback
    assert "slow" not in logged  # and without the frames' locals
