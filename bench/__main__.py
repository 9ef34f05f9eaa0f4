"""Run every benchmark: `python -m bench` (or one of them: `python -m bench rest graphql`).

Each prints its measurements next to a baseline measured in the same run (a bare Starlette endpoint, the
raw search engine, a plain NumPy computation) and the ratios. The search and matching benchmarks build a
synthetic data set first (a few minutes); pass their own options by running them alone, e.g.
`python -m bench.search --data-dir /tmp/cm-bench`. `load` serves the API as the server deployment does (two
workers, production settings, PostgreSQL: `--database-url`, or a private cluster) to 32 concurrent clients.
`match_quality` measures what the matches are worth (precision@k, nDCG@5 on labelled profiles, u4ssc-match/2
against /3), not their speed.
"""

from __future__ import annotations

import os
import subprocess
import sys

BENCHMARKS = (
    "rest",
    "graphql",
    "load",
    "dashboard",
    "search",
    "matching",
    "match_quality",
    "webhooks",
    "feed",
    "startup",
)


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s) {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    # One BLAS thread: steadier numbers on a small machine, and the same for the code and its baseline.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    failed = []
    for name in chosen:
        print(f"\n===== bench.{name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], env=env, check=False).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
