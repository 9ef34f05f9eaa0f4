"""GraphQL benchmark: the same reads through GraphQL and through REST, in the same run, against the same
uvicorn server on loopback (one worker). The ratios say what GraphQL costs over REST for the same data:

- one object: `solution(id)` with a few fields, against GET /api/v1/solutions/{id};
- the nested list: 50 solutions with their vendor and KPI impacts (and each impact's KPI), against
  GET /api/v1/solutions?limit=50 (which embeds the vendor summary).

    python -m bench.graphql [--iterations 500] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.common import measure, report, seeded_data_dir, server

ONE = "query ($id: Int!) { solution(id: $id) { id title summary status maturity vendor { name } } }"
NESTED = """{ solutions(first: 50) { edges { node { title vendor { name }
  kpiImpacts { kpi { slug name } expectedEffect evidenceLevel } } } } }"""


def graphql_call(client: httpx.Client, query: str, **variables: Any) -> Any:
    def call() -> httpx.Response:
        response = client.post("/graphql", json={"query": query, "variables": variables})
        return response

    checked = call().json()
    if "errors" in checked:
        raise RuntimeError(f"the benchmark query fails: {checked['errors']}")
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = seeded_data_dir(Path(tmp), args.database_url)
        env["CITYMARKET_SEED_ON_START"] = "false"
        env["CITYMARKET_GC_FREEZE"] = "true"  # as `citymarket serve` runs its workers
        env["CITYMARKET_INDEXER_IN_PROCESS"] = "false"  # no background work competing with the requests
        with server("app.main:create_app", env, factory=True) as api, httpx.Client(base_url=api) as client:
            listed = client.get("/api/v1/solutions", params={"limit": 50}).json()["items"]
            assert listed, "the demo seed has published solutions"
            first_id = listed[0]["id"]
            one = f"/api/v1/solutions/{first_id}"
            assert client.get(one).status_code == 200
            graphql_one = graphql_call(client, ONE, id=first_id)
            graphql_nested = graphql_call(client, NESTED)
            nodes = graphql_nested().json()["data"]["solutions"]["edges"]
            assert [e["node"]["title"] for e in nodes] == [s["title"] for s in listed], "the same solutions"
            n = args.iterations
            rows = [
                (
                    measure("GraphQL solution(id), 6 fields", graphql_one, n),
                    measure("REST GET /solutions/{id}", lambda: client.get(one), n),
                ),
                (
                    measure("GraphQL solutions(first: 50)+vendor+impacts", graphql_nested, n),
                    measure("REST GET /solutions?limit=50", lambda: client.get("/api/v1/solutions?limit=50"), n),
                ),
            ]
    title = f"GraphQL vs REST, {args.iterations} sequential requests each, one uvicorn worker"
    report(f"{title}; the lists hold {len(listed)} solutions (all the published ones, up to 50)", rows)


if __name__ == "__main__":
    main()
