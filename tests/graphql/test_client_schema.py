"""What a real client does: read the schema by introspection over HTTP, build its own copy with graphql-core,
and check its queries against it. The queries are the README's (every ```graphql block), so the README cannot
drift from the schema; each is then run against the seeded app and must return data without errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_client_schema,
    get_introspection_query,
    parse,
    validate,
)

from app.graphql.analysis import OperationAnalysis
from tests.graphql.conftest import data

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```graphql\n(.*?)^```", re.DOTALL | re.MULTILINE)


def readme_queries() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def operation_of(query: str) -> OperationDefinitionNode:
    operations = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1, "one operation per README block"
    return operations[0]


def name_of(query: str) -> str:
    name = operation_of(query).name
    return name.value if name else "anonymous"


@pytest.fixture(scope="module")
def client_schema(read_client: TestClient) -> GraphQLSchema:
    """The schema as a client builds it: the full introspection query, over HTTP."""
    introspection = data(
        read_client,
        get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True),
    )
    return build_client_schema(introspection)  # type: ignore[arg-type]


def variables_for(client: TestClient, query: str) -> dict[str, Any]:
    """Values for the variables the README's queries use (a new variable must be added here)."""
    known = {"cityId": lambda: client.get("/api/v1/cities", params={"q": "Karm"}).json()["items"][0]["id"]}
    values = {}
    for definition in operation_of(query).variable_definitions or ():
        name = definition.variable.name.value
        assert name in known, f"README query {name_of(query)} uses ${name}: give it a value in variables_for()"
        values[name] = known[name]()
    return values


def test_the_readme_has_the_three_queries_of_a_city_official() -> None:
    names = [name_of(q) for q in readme_queries()]
    assert {"CityKpiValues", "SolutionsForWaterLoss", "NordicCatalogue"} <= set(names), names


def test_the_client_schema_is_the_served_schema(client_schema: GraphQLSchema) -> None:
    query = client_schema.query_type
    assert query is not None
    assert {"kpis", "cities", "city", "solutions", "hubs", "challenges", "comments"} <= set(query.fields)
    assert client_schema.get_type("Solution") is not None


@pytest.mark.parametrize("query", readme_queries(), ids=name_of)
def test_readme_query_is_valid_for_the_client_schema(client_schema: GraphQLSchema, query: str) -> None:
    errors = validate(client_schema, parse(query))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("query", readme_queries(), ids=name_of)
def test_readme_query_returns_data(read_client: TestClient, query: str) -> None:
    if operation_of(query).operation is not OperationType.QUERY:
        pytest.skip("mutations are checked by the mutation tests, on a database of their own")
    result = data(read_client, query, **variables_for(read_client, query))
    assert result
    for field, value in result.items():
        assert value, f"{field} is empty"
        edges = value.get("edges") if isinstance(value, dict) else None
        if edges is not None:
            assert edges, f"{field} has no items"


def test_the_costs_the_readme_states(client_schema: GraphQLSchema) -> None:
    """The README prices its solutions query at 152 (the client schema's default page sizes do the same)."""
    query = next(q for q in readme_queries() if name_of(q) == "SolutionsForWaterLoss")
    assert OperationAnalysis(client_schema, {}).measure(operation_of(query)).cost == 152
    at_limit = "hubs(first: 33) { edges { node { catalogue(first: 100) { edges { node { status } } } } } }"
    assert OperationAnalysis(client_schema, {}).measure(operation_of("{ " + at_limit + " }")).cost == 10_000
    assert f"`{at_limit}` costs exactly" in README.read_text(encoding="utf-8").replace("\n", " ")
