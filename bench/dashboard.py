"""Dashboard benchmark: each page's time (GET, loopback, one uvicorn worker) next to the REST calls the page
is built from, made one after the other as a client would to show the same thing, in the same run.

The two are measured in turn, request by request. The page calls the same services in one request (one
session, one principal); the REST sequence pays HTTP and JSON per call. Issue 15 asks for each page's p95
within 2x its REST calls' p95.

    python -m bench.dashboard [--iterations 200] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import Timing, report, seeded_data_dir, server


def measure_pair(
    name: str, call: Callable[[], object], baseline_name: str, baseline: Callable[[], object], iterations: int
) -> tuple[Timing, Timing]:
    """The page and its REST calls measured in turn, request by request, so that a slow moment of a busy
    machine falls on both alike rather than on whichever ran then."""
    for _ in range(20):
        call()
        baseline()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(iterations):
        for fn, samples in ((call, ours), (baseline, theirs)):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
    return Timing(name, ours), Timing(baseline_name, theirs)


def _wait_for_search(client: httpx.Client, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").json().get("search", {}).get("consistent"):
            return
        time.sleep(0.2)
    raise RuntimeError("the search index did not catch up")


def pages_and_calls(client: httpx.Client) -> list[tuple[str, list[str]]]:
    """Each page of the dashboard and the REST calls that show the same data."""
    karmoy = client.get("/api/v1/cities", params={"q": "Karm"}).json()["items"][0]["id"]
    matches = client.get(f"/api/v1/cities/{karmoy}/solution-matches", params={"limit": 1}).json()
    solution = matches["items"][0]["solution"]
    hub = client.get("/api/v1/hubs").json()["items"][0]["id"]
    challenge = client.get("/api/v1/challenges", params={"limit": 1}).json()["items"][0]["id"]
    values = f"/api/v1/cities/{karmoy}/kpi-values?limit=100"
    return [
        (
            "/",
            ["/api/v1/kpis?limit=100", "/api/v1/cities?data_public=true&limit=100", "/api/v1/hubs?limit=100",
             "/api/v1/challenges?limit=10"],
        ),
        (
            f"/cities/{karmoy}",
            [f"/api/v1/cities/{karmoy}", f"/api/v1/cities/{karmoy}/scorecard",
             f"/api/v1/cities/{karmoy}/scorecard/wheel.svg", f"/api/v1/cities/{karmoy}/solution-matches?limit=5",
             f"/api/v1/cities/{karmoy}/twin-matches?limit=3", values],
        ),
        (
            f"/solutions/{solution['id']}",
            [f"/api/v1/solutions/{solution['id']}", f"/api/v1/vendors/{solution['vendor']['id']}",
             f"/api/v1/case-studies?solution={solution['id']}"],
        ),
        ("/search?q=water", ["/api/v1/search?q=water&facets=type,category,country"]),
        (f"/hubs/{hub}", [f"/api/v1/hubs/{hub}", f"/api/v1/hubs/{hub}/catalogue?limit=100"]),
        (
            f"/challenges/{challenge}",
            [f"/api/v1/challenges/{challenge}", f"/api/v1/comments?challenge={challenge}",
             f"/api/v1/challenges/{challenge}/proposals"],
        ),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = seeded_data_dir(Path(tmp), args.database_url)
        env["CITYMARKET_SEED_ON_START"] = "false"
        with server("app.main:create_app", env, factory=True) as api, httpx.Client(base_url=api) as client:
            _wait_for_search(client)
            rows = []
            for page, calls in pages_and_calls(client):
                assert client.get(page).status_code == 200, page
                for call in calls:
                    assert client.get(call).status_code == 200, call

                def sequence(calls: list[str] = calls) -> None:
                    for call in calls:
                        client.get(call)

                label = f"{len(calls)} REST call{'s' if len(calls) > 1 else ''}"
                rows.append(
                    measure_pair(f"page {page}", lambda page=page: client.get(page), label, sequence, args.iterations)
                )
    report(
        f"Dashboard pages vs the REST calls they are built from, {args.iterations} sequential requests each, "
        "one uvicorn worker (x p95 <= 2 is the target)",
        rows,
    )


if __name__ == "__main__":
    main()
