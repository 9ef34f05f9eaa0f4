"""REST benchmark: GET /api/v1/solutions/{id} and a 50-item list, against a bare Starlette endpoint doing
the same reads with the same driver, in the same run, both served by uvicorn on loopback.

    python -m bench.rest [--iterations 500] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import httpx

from bench.common import measure, report, seeded_data_dir, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = seeded_data_dir(Path(tmp), args.database_url)
        env["CITYMARKET_SEED_ON_START"] = "false"
        env["CITYMARKET_GC_FREEZE"] = "true"  # as `citymarket serve` runs its workers
        with (
            server("app.main:create_app", env, factory=True) as api,
            server("bench.baseline_app:app", env) as bare,
            httpx.Client(base_url=api) as client,
            httpx.Client(base_url=bare) as baseline,
        ):
            first_id = client.get("/api/v1/solutions", params={"limit": 50}).json()["items"][0]["id"]
            one = f"/api/v1/solutions/{first_id}"
            assert client.get(one).status_code == 200
            n = args.iterations
            rows = [
                (
                    measure("citymarket GET /solutions/{id}", lambda: client.get(one), n),
                    measure("starlette PK read", lambda: baseline.get(f"/solutions/{first_id}"), n),
                ),
                (
                    measure("citymarket GET /solutions?limit=50", lambda: client.get("/api/v1/solutions?limit=50"), n),
                    measure("starlette 50-row list", lambda: baseline.get("/solutions"), n),
                ),
            ]
    report(f"REST vs bare Starlette, {args.iterations} sequential requests each, one uvicorn worker", rows)


if __name__ == "__main__":
    main()
