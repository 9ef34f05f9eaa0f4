"""REST benchmark: GET /api/v1/solutions/{id} and a 50-item list, against a bare Starlette endpoint doing
the same reads with the same driver, in the same run, both served by uvicorn on loopback.

Each request to citymarket is followed by one to the baseline (interleaved, not one series after the other),
so that on a shared machine both see the same load. Under heavy load, waiting for a CPU inflates both latencies
alike and flattens the ratio, so the bench also prints each server process's CPU time per request (from
/proc), which other processes' load hardly changes.

    python -m bench.rest [--iterations 500] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.common import Timing, report, seeded_data_dir, server


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def interleaved(
    name: str, call: Callable[[], object], baseline_name: str, baseline: Callable[[], object], iterations: int
) -> tuple[Timing, Timing]:
    """`call` and `baseline` alternately, `iterations` times each (after 20 unmeasured rounds)."""
    samples: tuple[list[float], list[float]] = ([], [])
    for round_ in range(iterations + 20):
        for target, out in ((call, samples[0]), (baseline, samples[1])):
            started = time.perf_counter()
            target()
            if round_ >= 20:
                out.append((time.perf_counter() - started) * 1000)
    return Timing(name, samples[0]), Timing(baseline_name, samples[1])


def with_cpu(
    pids: tuple[int, int], measure: Callable[[], tuple[Timing, Timing]], cpu: list[str]
) -> tuple[Timing, Timing]:
    """`measure()`, noting in `cpu` each server's CPU milliseconds per request during it (warm-up included)."""
    before = [cpu_seconds(pid) for pid in pids]
    timings = measure()
    requests = len(timings[0].samples_ms) + 20
    api, bare = ((cpu_seconds(pid) - b) * 1000 / requests for pid, b in zip(pids, before, strict=True))
    cpu.append(f"{timings[0].name:44} server CPU {api:6.3f} ms/request, baseline {bare:6.3f}: {api / bare:5.2f}x")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = seeded_data_dir(Path(tmp), args.database_url)
        env["CITYMARKET_SEED_ON_START"] = "false"
        env["CITYMARKET_GC_FREEZE"] = "true"  # as `citymarket serve` runs its workers
        with ExitStack() as stack:
            api = stack.enter_context(server("app.main:create_app", env, factory=True))
            api_pid = server.pid  # type: ignore[attr-defined]
            bare = stack.enter_context(server("bench.baseline_app:app", env))
            pids = (api_pid, server.pid)  # type: ignore[attr-defined]
            client = stack.enter_context(httpx.Client(base_url=api))
            baseline = stack.enter_context(httpx.Client(base_url=bare))
            first_id = client.get("/api/v1/solutions", params={"limit": 50}).json()["items"][0]["id"]
            one = f"/api/v1/solutions/{first_id}"
            assert client.get(one).status_code == 200
            n = args.iterations
            cpu: list[str] = []
            rows = [
                with_cpu(
                    pids,
                    lambda: interleaved(
                        "citymarket GET /solutions/{id}",
                        lambda: client.get(one),
                        "starlette PK read",
                        lambda: baseline.get(f"/solutions/{first_id}"),
                        n,
                    ),
                    cpu,
                ),
                with_cpu(
                    pids,
                    lambda: interleaved(
                        "citymarket GET /solutions?limit=50",
                        lambda: client.get("/api/v1/solutions?limit=50"),
                        "starlette 50-row list",
                        lambda: baseline.get("/solutions"),
                        n,
                    ),
                    cpu,
                ),
            ]
    report(f"REST vs bare Starlette, {args.iterations} requests each, interleaved, one uvicorn worker each", rows)
    print("\n".join(cpu))


if __name__ == "__main__":
    main()
