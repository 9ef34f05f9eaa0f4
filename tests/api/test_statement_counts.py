"""A page costs the same number of SQL statements for 1, 10 and 50 parents, on both faces: nested GraphQL
fields go through per-request DataLoaders, REST lists load their relationships with one statement each."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.conftest import acting_as, admin, gql
from tests.api.growth import grow
from tests.conftest import StatementCounter

SIZES = (1, 10, 50)

# kind to grow: (GraphQL query for $n parents, the connection's field, the REST list).
NESTED = {
    "vendors": (
        "vendors(first: $n, sort: newest) { edges { node { name size publishedSolutions } } }",
        "vendors",
        "/api/v1/vendors?sort=newest",
    ),
    "solutions": (
        """solutions(first: $n, sort: newest) { edges { node { title vendor { name }
             kpiImpacts { kpi { slug name } effect evidenceLevel } deployments { year city { name } } } } }""",
        "solutions",
        "/api/v1/solutions?sort=newest",
    ),
    "case_studies": (
        """caseStudies(first: $n, sort: newest) { edges { node { title city { name country { code } }
             outcomes { valueBefore valueAfter kpi { slug } } solutions { title vendor { name } } } } }""",
        "caseStudies",
        "/api/v1/case-studies?sort=newest",
    ),
    "guidelines": (
        "procurementGuidelines(first: $n) { edges { node { title categories kpis { slug name } } } }",
        "procurementGuidelines",
        "/api/v1/procurement-guidelines?",
    ),
    "hubs": (
        """hubs(first: $n) { edges { node { name countries catalogue(first: 5) {
             totalCount edges { node { status note solution { title vendor { name } } } } } } } }""",
        "hubs",
        "/api/v1/hubs?",
    ),
    "twinnings": (
        "twinnings(first: $n) { edges { node { status cityA { name } cityB { name } focusKpis { slug } } } }",
        "twinnings",
        "/api/v1/twinnings?",
    ),
    "challenges": (
        """challenges(first: $n) { edges { node { title city { name } targetKpis { slug }
             proposals { status vendor { name } solution { title vendor { name } } } } } }""",
        "challenges",
        "/api/v1/challenges?",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", NESTED)
def test_nested_reads_cost_the_same_for_1_10_and_50_parents(
    client: TestClient, engine: Engine, count_statements: type[StatementCounter], kind: str
) -> None:
    query, field, rest = NESTED[kind]
    grow(engine, kind)
    graphql_counts, rest_counts = {}, {}
    # Proposals are confidential: an admin sees every challenge's, so that each parent has some to load.
    with acting_as(client, admin()) if kind == "challenges" else nullcontext():
        _count(client, engine, count_statements, query, field, rest, graphql_counts, rest_counts)
    print(f"{kind}: GraphQL {graphql_counts}, REST {rest_counts}")  # the figures for the record (pytest -s)
    assert len(set(graphql_counts.values())) == 1, graphql_counts
    assert len(set(rest_counts.values())) == 1, rest_counts


def _count(
    client: TestClient,
    engine: Engine,
    count_statements: type[StatementCounter],
    query: str,
    field: str,
    rest: str,
    graphql_counts: dict[int, int],
    rest_counts: dict[int, int],
) -> None:
    for n in SIZES:
        with count_statements(engine) as counter:
            data = gql(client, f"query ($n: Int!) {{ {query} }}", n=n)
        assert len(data[field]["edges"]) == n
        graphql_counts[n] = counter.count
        with count_statements(engine) as counter:
            response = client.get(f"{rest}&limit={n}")
        assert response.status_code == 200
        assert len(response.json()["items"]) == n
        rest_counts[n] = counter.count


def test_the_nested_fields_are_all_there(client: TestClient, engine: Engine) -> None:
    """The counted query does fetch what it asks for (a constant count of nothing would prove nothing)."""
    grow(engine, "solutions")
    data = gql(client, f"query ($n: Int!) {{ {NESTED['solutions'][0]} }}", n=50)
    nodes = [edge["node"] for edge in data["solutions"]["edges"]]
    assert all(node["vendor"]["name"] for node in nodes)
    assert all(node["kpiImpacts"] and node["kpiImpacts"][0]["kpi"]["slug"] for node in nodes)
    assert all(node["deployments"] and node["deployments"][0]["city"]["name"] for node in nodes)


def test_a_solution_by_id_costs_three_statements(
    client: TestClient, engine: Engine, count_statements: type[StatementCounter]
) -> None:
    """The listing's row (vendor, list values and moderation state in the one statement), its impact claims and
    its deployments: the hidden state has no statement of its own."""
    listed = client.get("/api/v1/solutions?limit=1").json()["items"][0]["id"]
    with count_statements(engine) as counter:
        response = client.get(f"/api/v1/solutions/{listed}")
    assert response.status_code == 200
    assert response.json()["kpi_impacts"]
    assert response.json()["deployments"]
    queries = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]  # not SQLite's BEGIN
    assert len(queries) == 3, counter.statements
