"""Shared benchmark plumbing: a seeded data dir, servers on loopback, timing loops, and the report.

Every benchmark prints ratios against a baseline measured in the same run, never bare numbers alone.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Timing:
    name: str
    samples_ms: list[float]
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU time per call, where measured

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(name: str, call: Callable[[], object], iterations: int, warmup: int = 20) -> Timing:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(name, samples)


def measure_interleaved(calls: dict[str, Callable[[], object]], iterations: int, warmup: int = 20) -> list[Timing]:
    """Like `measure`, for several calls taking turns each iteration: on a shared machine a load that comes and
    goes then falls on all of them alike, so their ratios hold where back-to-back blocks would not."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(iterations):
        for name, call in calls.items():
            cpu_started, started = time.process_time(), time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - cpu_started) * 1000)
    return [Timing(name, samples[name], cpu[name]) for name in calls]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its finished children) so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def report(title: str, rows: list[tuple[Timing, Timing]]) -> None:
    """Each row: (measured, its baseline). Prints p50/p95 of both and the ratios."""
    print(f"\n{title}")
    header = ("measurement", "p50 ms", "p95 ms", "baseline", "p50 ms", "p95 ms", "x p50", "x p95", "+p95 ms")
    print("{:44} {:>8} {:>8}   {:34} {:>8} {:>8} {:>7} {:>7} {:>8}".format(*header))
    for m, b in rows:
        values = (m.name, m.p50, m.p95, b.name, b.p50, b.p95, m.p50 / b.p50, m.p95 / b.p95, m.p95 - b.p95)
        print("{:44} {:8.3f} {:8.3f}   {:34} {:8.3f} {:8.3f} {:7.2f} {:7.2f} {:8.2f}".format(*values))
    load = os.getloadavg()
    print(f"load average while reporting: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


def free_port() -> int:
    """A free loopback port: from BENCH_PORTS ("8500-8549") when set (a shared machine), else any."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(low), int(high or low) + 1) if low else [0]
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


@contextmanager
def server(
    app_path: str, env: dict[str, str], factory: bool = False, port: int | None = None, workers: int = 1
) -> Iterator[str]:
    """Run `uvicorn app_path` on a free loopback port (or `port`), one worker (or `workers`), access log off;
    yields its base URL (and, as `server.pid`, the process id of the last one started, for memory readings)."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app_path,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        command.append("--factory")
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    server.pid = process.pid  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{app_path} did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def seeded_data_dir(path: Path, database_url: str = "") -> dict[str, str]:
    """Migrate and seed (reference + demo) a data dir; returns the environment that points at it."""
    env = {"CITYMARKET_DATA_DIR": str(path), "CITYMARKET_ENV": "test", "CITYMARKET_LOG_LEVEL": "WARNING"}
    if database_url:
        env["CITYMARKET_DATABASE_URL"] = database_url
    subprocess.run(
        [sys.executable, "-m", "app.cli", "seed"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return env
