"""Nested GraphQL reads cost the same number of SQL statements for 1, 10 and 50 parents (one batch per level,
through the request's DataLoaders), and every resolver or loader that runs works in a session of its own:
Strawberry resolves sibling fields concurrently, and a SQLAlchemy session must never be shared between them.

(tests/api/test_statement_counts.py compares the whole nested queries of every list with REST's; these are the
three relations the GraphQL issue names, each on its own.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.config import Settings
from app.graphql.context import Context
from tests.api.growth import grow
from tests.conftest import StatementCounter
from tests.graphql.conftest import data

SIZES = (1, 10, 50)

NESTED: dict[str, tuple[str, str, Callable[[dict[str, Any]], bool]]] = {
    # name: (kind to grow, query for $n parents, what each node must have fetched)
    "solutions -> vendor": (
        "solutions",
        "solutions(first: $n, sort: newest) { edges { node { title vendor { name } } } }",
        lambda node: bool(node["vendor"]["name"]),
    ),
    "solutions -> KPI impacts -> KPI": (
        "solutions",
        "solutions(first: $n, sort: newest) { edges { node { kpiImpacts { expectedEffect kpi { slug name } } } } }",
        lambda node: bool(node["kpiImpacts"]) and all(i["kpi"]["slug"] for i in node["kpiImpacts"]),
    ),
    "case studies -> city": (
        "case_studies",
        "caseStudies(first: $n, sort: newest) { edges { node { title cityId city { name } } } }",
        lambda node: (node["city"] is None) == (node["cityId"] is None) and (node["city"] or {}).get("name") != "",
    ),
}


@pytest.mark.parametrize("relation", NESTED)
def test_nested_reads_cost_the_same_for_1_10_and_50_parents(
    client: TestClient, engine: Engine, count_statements: type[StatementCounter], relation: str
) -> None:
    kind, selection, fetched = NESTED[relation]
    grow(engine, kind)
    counts = {}
    for n in SIZES:
        with count_statements(engine) as counter:
            result = data(client, f"query ($n: Int!) {{ {selection} }}", n=n)
        nodes = [edge["node"] for edge in next(iter(result.values()))["edges"]]
        assert len(nodes) == n
        assert all(fetched(node) for node in nodes), nodes
        counts[n] = counter.count
    print(f"{relation}: {counts}")  # the figures for the record (pytest -s)
    assert len(set(counts.values())) == 1, counts


def test_case_studies_with_a_city_are_among_those_counted(client: TestClient, engine: Engine) -> None:
    """The case-study count above proves something only if the grown parents do have cities to load."""
    grow(engine, "case_studies")
    result = data(client, "{ caseStudies(first: 50, sort: newest) { edges { node { city { name } } } } }")
    assert sum(1 for edge in result["caseStudies"]["edges"] if edge["node"]["city"]) >= 25


def test_each_resolver_and_loader_gets_a_session_of_its_own(
    read_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records the session each `run_db` call hands its work; a context that shared one session between
    sibling resolvers (or loaders) would hand the same object twice. The list keeps every session alive, so
    no two can have the same identity by reuse of memory."""
    handed: list[Session] = []
    original = Context.run_db

    async def probe(self: Context, work: Callable[[Session], Any]) -> Any:
        def recording(session: Session) -> Any:
            handed.append(session)
            return work(session)

        return await original(self, recording)

    monkeypatch.setattr(Context, "run_db", probe)
    query = """{
      solutions(first: 3) { edges { node {
        vendor { name } kpiImpacts { kpi { slug } } deployments { city { name } } } } }
      vendors(first: 2) { edges { node { name publishedSolutions } } }
      kpis(first: 1) { totalCount }
      caseStudies(first: 2) { edges { node { city { name } outcomes { kpi { slug } } } } }
    }"""
    result = data(read_client, query)
    assert result["kpis"]["totalCount"] == 91
    # 4 root fields; loaders: vendor, impacts, deployments, KPI, city, published counts, outcomes, and a
    # second round of KPI and city loads for the case studies (a loader batches per tick, not per request).
    assert len(handed) >= 10, len(handed)
    assert len({id(session) for session in handed}) == len(handed), "two resolvers or loaders shared a session"
    assert not any(session.in_transaction() for session in handed), "a session was left open"


def test_run_db_opens_a_new_session_for_every_call(engine: Engine) -> None:
    context = Context(engine=engine, settings=Settings())

    async def five_at_once() -> list[Session]:
        return list(await asyncio.gather(*(context.run_db(lambda s: s) for _ in range(5))))

    sessions = asyncio.run(five_at_once())
    assert len({id(s) for s in sessions}) == 5
    assert all(s.bind is engine for s in sessions)
