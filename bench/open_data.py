"""Memory of the open-data KPI-values export (issue 17): the API process's resident memory while it streams
every public city's values, for the seeded data and for the synthetic 10,000 cities.

    python -m bench.open_data --data-dir /tmp/cm-synth [--small-dir /tmp/cm-small] [--port 8550]

The data dirs are made if missing: `citymarket seed` (the seeded 24 cities) and `citymarket seed --synthetic
--cities 10000` (a minute or so). A thread reads the server's VmRSS every 50 ms while a client streams the
export to nowhere; the figure is the peak above the idle server's RSS. Flat memory means the peak does not grow
with the number of rows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.common import ROOT, server


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def ensure(data_dir: Path, synthetic: bool) -> dict[str, str]:
    env = {"CITYMARKET_DATA_DIR": str(data_dir), "CITYMARKET_ENV": "test", "CITYMARKET_LOG_LEVEL": "WARNING"}
    if not (data_dir / "citymarket.sqlite3").exists():
        command = [sys.executable, "-m", "app.cli", "seed"]
        if synthetic:
            command += [
                "--synthetic",
                "--cities",
                "10000",
                "--solutions",
                "1000",
                "--case-studies",
                "100",
                "--no-reindex",
            ]
        subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
    return {**env, "CITYMARKET_SEED_ON_START": "false", "CITYMARKET_INDEXER_IN_PROCESS": "false"}


def measure(env: dict[str, str], port: int, fmt: str) -> tuple[int, int, int, int, float]:
    """(rows, bytes, idle RSS KiB, peak RSS KiB, seconds) of one streamed export."""
    with server("app.main:create_app", env, factory=True, port=port) as base:
        pid: int = server.pid  # type: ignore[attr-defined]
        httpx.get(base + "/api/v1/open-data/kpi-framework", timeout=60)  # warm up imports and the pool
        idle = rss_kib(pid)
        peak = [idle]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        size = lines = 0
        marker = b"\n" if fmt == "csv" else b'{"city"'
        tail = b""  # a marker may straddle two parts
        started = time.perf_counter()
        with httpx.stream("GET", base + f"/api/v1/open-data/kpi-values?format={fmt}", timeout=600) as response:
            response.raise_for_status()
            for part in response.iter_bytes():
                size += len(part)
                lines += (tail + part).count(marker)
                tail = part[-(len(marker) - 1) :] if len(marker) > 1 else b""
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        rows = lines - 1 if fmt == "csv" else lines
        return rows, size, idle, peak[0], seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/cm-bench-open-data"))
    parser.add_argument("--small-dir", type=Path, default=Path("/tmp/cm-bench-open-data-small"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunk", type=int, nargs="+", default=[5000], help="CITYMARKET_OPEN_DATA_CHUNK_ROWS")
    args = parser.parse_args()
    small, large = ensure(args.small_dir, synthetic=False), ensure(args.data_dir, synthetic=True)
    runs = [
        (f"{name}, chunk {chunk}", {**env, "CITYMARKET_OPEN_DATA_CHUNK_ROWS": str(chunk)})
        for chunk in args.chunk
        for name, env in (("seeded", small), ("10,000 cities", large))
    ]
    print(
        f"{'data':>26} {'format':>6} {'rows':>9} {'MB sent':>8} {'idle RSS MB':>11} {'peak RSS MB':>11} "
        f"{'growth MB':>9} {'s':>6}"
    )
    for name, env in runs:
        for fmt in ("csv", "json"):
            rows, size, idle, peak, seconds = measure(env, args.port or 0, fmt)
            print(
                f"{name:>26} {fmt:>6} {rows:>9,} {size / 1e6:>8.1f} {idle / 1024:>11.1f} {peak / 1024:>11.1f} "
                f"{(peak - idle) / 1024:>9.1f} {seconds:>6.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
