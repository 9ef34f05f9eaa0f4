"""Load benchmark: the server deployment's API (`citymarket serve --workers 2`, production settings, on
PostgreSQL) under 32 concurrent clients on loopback, next to a bare Starlette app (bench/baseline_app.py:
the same primary-key read and 50-row list, same driver and pool, also two uvicorn workers) on the same
database, in the same run. Three phases of `--seconds` each, one after the other (never both servers at once):

- citymarket, reads: solution by id and the 50-row list, alternately (GET /api/v1/solutions/{id},
  GET /api/v1/solutions?limit=50);
- citymarket, a mix: those reads, full-text searches (GET /api/v1/search) and a city's matches
  (GET /api/v1/cities/{id}/solution-matches);
- the bare app, the same reads as the first phase.

It prints requests/s, p50 and p99 and the error count of each, side by side with the bare app's and the
ratios, then each kind of request of the mix. Any error (a connection error, a time-out, a status other than
2xx) makes it exit non-zero.

The load generator is asyncio with keep-alive HTTP/1.1 connections of its own (one per client): an HTTP
client library costs more CPU per request than the bare app, and the machine's cores are shared by the
servers, PostgreSQL and the generator. Bounded: `--seconds` per phase and at most `--max-requests`.

The database: `--database-url` (or CITYMARKET_BENCH_DATABASE_URL), an empty PostgreSQL database (or one
this benchmark seeded before) that it migrates and seeds with the reference and demo data; without one it
runs a PostgreSQL cluster of its own in a temporary directory (as the fault test does, tests/fault/stack.py).
The API runs as docker-compose.yml's does: CITYMARKET_ENV=production, generated secret and signing keys,
the indexer out of process (the index is built once by `citymarket reindex` before the load), tantivy in
the data dir unless CITYMARKET_SEARCH_ENGINE says otherwise.

    python -m bench.load [--seconds 15] [--clients 32] [--quick] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.common import ROOT, free_port, server

WORKERS = 2
REQUEST_TIMEOUT_S = 30.0
SEARCHES = ("water", "air quality", "street lighting", "watr leak", "traffic", "energy efficiency")


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_errors: list[str] = field(default_factory=list)

    def all_ms(self) -> list[float]:
        return [ms for values in self.latencies_ms.values() for ms in values]

    @property
    def requests(self) -> int:
        return len(self.all_ms()) + self.error_count

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rps(self) -> float:
        return len(self.all_ms()) / self.seconds if self.seconds else 0.0

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(f"{kind}: {what}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ------------------------------------------------------------------------------------------ load generator


class Connection:
    """One keep-alive HTTP/1.1 connection: GET and read the answer (Content-Length or chunked)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: application/json\r\n\r\n".encode()
        )
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        else:
            await self.reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _client(
    base: str, plan: list[tuple[str, str]], start: int, deadline: float, budget: list[int], result: Result | None
) -> None:
    parts = urlsplit(base)
    connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
    try:
        for i in itertools.count(start):
            if time.monotonic() >= deadline or budget[0] <= 0:
                return
            budget[0] -= 1
            kind, path = plan[i % len(plan)]
            started = time.perf_counter()
            try:
                status = await asyncio.wait_for(connection.get(path), REQUEST_TIMEOUT_S)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                await connection.close()
                if result is not None:
                    result.error(kind, f"{type(exc).__name__} {exc} on {path}")
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            if result is None:
                continue
            if 200 <= status < 300:
                result.latencies_ms[kind].append(elapsed_ms)
            else:
                result.error(kind, f"{status} on {path}")
    finally:
        await connection.close()


async def _drive(base: str, plan: list[tuple[str, str]], clients: int, seconds: float, budget: int,
                 result: Result | None) -> None:  # fmt: skip
    remaining = [budget]
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    # Each client starts at its own place in the plan: the kinds are interleaved across clients.
    await asyncio.gather(*(_client(base, plan, i * 7, deadline, remaining, result) for i in range(clients)))
    if result is not None:
        result.seconds = time.perf_counter() - started


def run_load(name: str, base: str, plan: list[tuple[str, str]], args: argparse.Namespace) -> Result:
    asyncio.run(_drive(base, plan, args.clients, args.warmup, args.max_requests, None))  # pools, caches
    result = Result(name)
    asyncio.run(_drive(base, plan, args.clients, args.seconds, args.max_requests, result))
    print(f"  {name}: {result.requests} requests in {result.seconds:.1f} s, {result.error_count} errors", flush=True)
    return result


# ------------------------------------------------------------------------------------------ the stack


@contextlib.contextmanager
def database(url: str, root: Path) -> Iterator[str]:
    """The database URL to use: the one given, or a private PostgreSQL cluster's (tests/fault/stack.py)."""
    if url:
        yield url
        return
    from tests.fault.stack import Postgres, _postgres_owner, postgres_bin

    owner = _postgres_owner()
    pg_dir = Path(tempfile.mkdtemp(prefix="citymarket-load-pg-"))
    as_user: list[str] = []
    if owner is not None:
        os.chown(pg_dir, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", owner.pw_name, "--"]
    postgres = Postgres(postgres_bin(), pg_dir, free_port(), as_user)
    try:
        if postgres.initdb().wait(120) != 0:
            raise RuntimeError("initdb failed")
        postgres.start()
        postgres.create_database()
        yield postgres.url
    finally:
        postgres.stop()
        shutil.rmtree(pg_dir, ignore_errors=True)


def production_env(data_dir: Path, database_url: str, port: int) -> dict[str, str]:
    from tests.fault.stack import signing_keys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITYMARKET_", "PG"))}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        # docker-compose.yml's x-app environment, on loopback.
        "CITYMARKET_ENV": "production",
        "CITYMARKET_DATA_DIR": str(data_dir),
        "CITYMARKET_DATABASE_URL": database_url,
        "CITYMARKET_SEARCH_ENGINE": os.environ.get("CITYMARKET_SEARCH_ENGINE", "tantivy"),
        "CITYMARKET_SECRET_KEY": secrets.token_urlsafe(32),
        "CITYMARKET_JWT_PRIVATE_KEYS": signing_keys(),
        "CITYMARKET_INDEXER_IN_PROCESS": "false",
        "CITYMARKET_SEED_ON_START": "false",
        "CITYMARKET_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CITYMARKET_TRUSTED_PROXIES": "",
        **{k: v for k, v in os.environ.items() if k.startswith("CITYMARKET_MEILISEARCH_")},
    }


def citymarket(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True)
    if done.returncode:
        raise RuntimeError(f"citymarket {' '.join(args)} failed: {done.stderr.decode(errors='replace')[-1500:]}")


@contextlib.contextmanager
def api_server(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """`citymarket serve --workers 2 --no-migrate`, in a session of its own (stopping it stops its workers)."""
    base = f"http://127.0.0.1:{port}"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(WORKERS), "--no-migrate"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _answers(base + "/readyz"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start: {log.read_text(errors='replace')[-1500:]}")
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def plans(api: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(the bare app's reads, citymarket's same reads, citymarket's mix), from the seeded data."""
    with httpx.Client(base_url=api, timeout=30) as client:
        ids = [item["id"] for item in client.get("/api/v1/solutions", params={"limit": 50}).json()["items"]]
        cities = [item["id"] for item in client.get("/api/v1/cities", params={"limit": 20}).json()["items"]]
        cities = [c for c in cities if client.get(f"/api/v1/cities/{c}/solution-matches").status_code == 200][:5]
        for q in SEARCHES:
            client.get("/api/v1/search", params={"q": q}).raise_for_status()
    if not ids or not cities:
        raise RuntimeError("the demo seed has no published solutions or no city with matches")
    bare = [p for i in ids for p in (("by id", f"/solutions/{i}"), ("list of 50", "/solutions"))]
    listed = ("list of 50", "/api/v1/solutions?limit=50")
    reads = [p for i in ids for p in (("by id", f"/api/v1/solutions/{i}"), listed)]
    # The mix, in a cycle of 10: 4 by id, 2 lists, 2 searches, 2 matches.
    mix = []
    for n, i in enumerate(ids):
        q = SEARCHES[n % len(SEARCHES)].replace(" ", "+")
        other = f"/api/v1/solutions/{ids[-1 - n]}"
        matches = ("matches", f"/api/v1/cities/{cities[n % len(cities)]}/solution-matches")
        mix += [("by id", f"/api/v1/solutions/{i}"), ("search", f"/api/v1/search?q={q}"), ("by id", other),
                listed, matches, ("by id", f"/api/v1/solutions/{i}"), ("search", f"/api/v1/search?q={q}&type=solution"),
                ("by id", other), listed, matches]  # fmt: skip
    return bare, reads, mix


# ------------------------------------------------------------------------------------------ report


def print_table(title: str, rows: list[tuple[Result, Result]], breakdown: Result) -> None:
    print(f"\n{title}")
    header = ("load", "req/s", "p50 ms", "p99 ms", "err", "baseline", "req/s", "p50 ms", "p99 ms", "err",
              "x req/s", "x p50", "x p99")  # fmt: skip
    line = "{:34} {:>8} {:>8} {:>8} {:>4}   {:22} {:>8} {:>8} {:>8} {:>4} {:>8} {:>7} {:>7}"
    print(line.format(*header))
    for m, b in rows:
        mp50, mp99, bp50, bp99 = (percentile(r.all_ms(), q) for r in (m, b) for q in (0.5, 0.99))
        print(
            "{:34} {:8.0f} {:8.2f} {:8.2f} {:4d}   {:22} {:8.0f} {:8.2f} {:8.2f} {:4d} {:8.2f} {:7.2f} {:7.2f}".format(
                m.name, m.rps, mp50, mp99, m.error_count, b.name, b.rps, bp50, bp99, b.error_count,
                m.rps / b.rps if b.rps else float("nan"), mp50 / bp50, mp99 / bp99,
            )
        )  # fmt: skip
    print(f"\n{breakdown.name}, by kind of request:")
    print("{:14} {:>8} {:>8} {:>8} {:>8} {:>5}".format("kind", "count", "p50 ms", "p99 ms", "mean ms", "err"))
    for kind in sorted(set(breakdown.latencies_ms) | set(breakdown.errors)):
        values = breakdown.latencies_ms.get(kind, [])
        print(
            "{:14} {:8d} {:8.2f} {:8.2f} {:8.2f} {:5d}".format(
                kind, len(values), percentile(values, 0.5), percentile(values, 0.99),
                statistics.fmean(values) if values else float("nan"), breakdown.errors.get(kind, 0),
            )
        )  # fmt: skip
    load = os.getloadavg()
    print(f"load average while reporting: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="of load per phase (three phases)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each phase")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (one connection each)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per phase, whatever the time")
    parser.add_argument("--quick", action="store_true", help="5 s per phase, 1 s of warm-up")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CITYMARKET_BENCH_DATABASE_URL", ""),
        help="an empty (or previously seeded) PostgreSQL database; default: a private cluster",
    )
    parser.add_argument("--data-dir", default="", help="default: a temporary directory")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 5.0), min(args.warmup, 1.0)
    if args.database_url.startswith("sqlite"):
        parser.error("the load benchmark runs on PostgreSQL (the server deployment)")
    with contextlib.ExitStack() as stack:
        root = Path(args.data_dir) if args.data_dir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        root.mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(database(args.database_url, root))
        port = free_port()
        env = production_env(root / "data", url, port)
        started = time.perf_counter()
        citymarket("seed", env=env)  # compose's one-shot migrate (seed migrates first)
        citymarket("reindex", env=env)
        print(f"seeded and indexed in {time.perf_counter() - started:.0f} s", flush=True)
        baseline_env = {**env, "CITYMARKET_LOG_LEVEL": "WARNING"}
        # One server at a time: each has the machine's cores to itself (apart from PostgreSQL and the clients).
        with api_server(env, port, root / "api.log") as api:
            bare_plan, reads_plan, mix_plan = plans(api)
            reads = run_load("citymarket reads (id, list)", api, reads_plan, args)
            mix = run_load("citymarket mix (+search, matches)", api, mix_plan, args)
        with server("bench.baseline_app:app", baseline_env, workers=WORKERS) as bare:
            bare_reads = run_load("starlette reads", bare, bare_plan, args)
    title = (
        f"{args.clients} concurrent clients on loopback, {args.seconds:.0f} s per phase, {WORKERS} uvicorn workers "
        "each, PostgreSQL; reads: solution by id and the 50-row list, alternately"
    )
    print_table(title, [(reads, bare_reads), (mix, bare_reads)], mix)
    failed = [r for r in (bare_reads, reads, mix) if r.error_count]
    for r in failed:
        print(f"{r.name}: {r.error_count} errors, e.g. {r.first_errors}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
