"""Start-up benchmark: `citymarket --help`, `citymarket clients create` on a seeded data dir, and the cold
start of `citymarket serve` on an empty data dir until /readyz answers ready (migrate, seed, index).

    python -m bench.startup [--repeat 3]

Goals (issue 14): --help < 0.5 s, clients create < 1.5 s, cold start to ready < 15 s. Each figure is the
wall time of a fresh process, with its CPU time (user + system) beside it: on a loaded machine the CPU time
says what the command costs, the wall time what it cost this time. The load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import ROOT, free_port, seeded_data_dir


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], None]) -> tuple[float, float]:
    cpu, started = _children_cpu(), time.perf_counter()
    run()
    return time.perf_counter() - started, _children_cpu() - cpu


def command(env: dict[str, str], *args: str) -> Callable[[], None]:
    def run() -> None:
        subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env={**os.environ, **env}, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip

    return run


def cold_start(data_dir: Path) -> tuple[float, float]:
    """`citymarket serve` on an empty data dir until /readyz is 200; returns (seconds, CPU seconds)."""
    port = free_port()
    env = {**os.environ, "CITYMARKET_DATA_DIR": str(data_dir), "CITYMARKET_ENV": "test",
           "CITYMARKET_LOG_LEVEL": "WARNING"}  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        while time.perf_counter() - started < 120:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if response.status_code == 200 and response.json()["status"] == "ready":
                    elapsed = time.perf_counter() - started
                    cpu = _proc_cpu(process.pid)
                    print(f"  first ready: consistent={response.json()['search']['consistent']}, "
                          f"backlog={response.json()['search']['backlog']}")  # fmt: skip
                    return elapsed, cpu
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("citymarket serve was not ready within 120 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: list[tuple[str, list[tuple[float, float]], float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = seeded_data_dir(Path(tmp) / "seeded")
        rows.append(("citymarket --help", [timed(command(env, "--help")) for _ in range(args.repeat)], 0.5))
        creates = [
            timed(command(env, "clients", "create", "--admin", "--name", f"bench {i}", "--json"))
            for i in range(args.repeat)
        ]
        rows.append(("citymarket clients create", creates, 1.5))
        starts = [cold_start(Path(tmp) / f"cold-{i}") for i in range(args.repeat)]
        rows.append(("serve, empty data dir -> /readyz ready", starts, 15.0))
    load = os.getloadavg()
    print(f"\nStart-up, {args.repeat} fresh processes each (load average {load[0]:.2f} on {os.cpu_count()} CPUs)")
    print("{:40} {:>10} {:>10} {:>10} {:>8}".format("measurement", "median s", "max s", "CPU s", "goal s"))
    for name, samples, goal in rows:
        walls = [w for w, _ in samples]
        cpus = [c for _, c in samples]
        print(f"{name:40} {statistics.median(walls):10.2f} {max(walls):10.2f} {statistics.median(cpus):10.2f} "
              f"{goal:8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
