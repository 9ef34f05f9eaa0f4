"""Integer ids too large for the database (2**63 on SQLite, 2**31 on PostgreSQL's INTEGER) gave a 500: every
one is bounded in the schema to what both hold (issue 12)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from graphql import (
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from graphql import build_schema as parse_sdl

from app.identity.models import Role
from tests.api.writes_city.conftest import Env

PROBLEM = "application/problem+json"
TOO_BIG = 2**31  # PostgreSQL's INTEGER holds up to 2**31 - 1, SQLite's up to 2**63 - 1
# `id`, `cityId`, `solutionIds`, and the filters that take an id (`hub: Int`), as an argument or input field.
ID_NAME = re.compile(r"[.(](id|city|vendor|hub|solution|challenge|proposal|actor|\w+Ids?)\)?$")


def _integer_parameters(openapi: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                options = schema.get("anyOf", [schema])
                for option in options:
                    if option.get("type") == "integer":
                        found.append((f"{method.upper()} {path}", parameter["in"], parameter["name"], option))
    return found


def test_every_integer_path_and_query_parameter_is_bounded(read_client: TestClient) -> None:
    parameters = _integer_parameters(read_client.get("/openapi.json").json())
    assert len(parameters) > 70  # the walk finds them (76 had no upper bound)
    unbounded = [
        (operation, where, name)
        for operation, where, name, schema in parameters
        if "maximum" not in schema or "minimum" not in schema or schema["maximum"] > 2**31 - 1
    ]
    assert unbounded == []


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/cities/{TOO_BIG}", "path.city_id"),
        (f"/api/v1/cities/{TOO_BIG}/kpi-values", "path.city_id"),
        (f"/api/v1/cities/{TOO_BIG}/scorecard", "path.city_id"),
        (f"/api/v1/cities/{TOO_BIG}/solution-matches", "path.city_id"),
        (f"/api/v1/solutions/{TOO_BIG}", "path.solution_id"),
        (f"/api/v1/solutions?vendor={TOO_BIG}", "query.vendor"),
        (f"/api/v1/solutions?hub={TOO_BIG}", "query.hub"),
        (f"/api/v1/vendors/{TOO_BIG}", "path.vendor_id"),
        (f"/api/v1/hubs/{TOO_BIG}/catalogue", "path.hub_id"),
        (f"/api/v1/challenges?city={TOO_BIG}", "query.city"),
        (f"/api/v1/challenges/{TOO_BIG}/proposals", "path.challenge_id"),
        (f"/api/v1/twinnings?city={TOO_BIG}", "query.city"),
        (f"/api/v1/case-studies?solution={TOO_BIG}", "query.solution"),
        (f"/api/v1/comments?proposal={TOO_BIG}", "query.proposal"),
    ],
)
def test_an_id_too_large_for_the_database_is_a_422_naming_it(read_client: TestClient, path: str, field: str) -> None:
    for too_big in (path, path.replace(str(TOO_BIG), str(2**63))):  # the fuzzer's finding, and the bound
        response = read_client.get(too_big)
        assert response.status_code == 422, response.text
    response = read_client.get(path)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in response.json()["detail"]


def test_the_largest_id_the_database_holds_is_simply_not_found(read_client: TestClient) -> None:
    response = read_client.get(f"/api/v1/cities/{TOO_BIG - 1}")
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM


def _named_ids(schema: GraphQLSchema) -> list[tuple[str, GraphQLNamedType]]:
    """Every argument and input field that carries an id (`id`, `cityId`, `solutionIds`...), with its type."""
    found = []
    for type_name, named in schema.type_map.items():
        # The search engine's filters (a query's, a saved search's) are its facet values as text, not ids.
        if type_name.startswith("__") or type_name in ("SearchFilters", "SearchAlertInput"):
            continue
        if isinstance(named, GraphQLInputObjectType):
            found += [(f"{type_name}.{n}", get_named_type(f.type)) for n, f in named.fields.items()]
        if isinstance(named, GraphQLObjectType):
            for field_name, field in named.fields.items():
                found += [(f"{type_name}.{field_name}({n})", get_named_type(a.type)) for n, a in field.args.items()]
    return [(where, kind) for where, kind in found if ID_NAME.search(where)]


def test_every_graphql_id_argument_is_a_32_bit_int(read_client: TestClient) -> None:
    from app.core.config import Settings
    from app.graphql.schema import build_schema

    ids = _named_ids(parse_sdl(build_schema(Settings()).as_str()))
    assert len(ids) > 20  # the walk finds them
    # GraphQL's Int is 32-bit by the spec (graphql-core refuses more before any resolver runs); an ID, a
    # String or a custom scalar would reach the database unbounded.
    assert [(where, kind.name) for where, kind in ids if kind is not GraphQLInt and where not in TEXT_IDS] == []
    body = read_client.post("/graphql", json={"query": f"{{ city(id: {TOO_BIG}) {{ id }} }}"})
    assert body.status_code == 200, body.text
    assert "32-bit" in body.json()["errors"][0]["message"]


# Ids that are text by design, each bounded in length as its REST twin is (checked below).
TEXT_IDS = {
    # An audit event names an object of any kind (a listing, a hub's catalogue entry, a key) by its id as text.
    "Query.auditEvents(objectId)": '{ auditEvents(objectType: "solution", objectId: "%s") { totalCount } }',
}


@pytest.mark.parametrize("where", sorted(TEXT_IDS))
def test_a_text_id_is_bounded_in_length_on_both_faces(env: Env, where: str) -> None:
    admin = env.auth(Role.admin)
    too_long = "1" * 65
    body = env.http.post("/graphql", json={"query": TEXT_IDS[where] % too_long}, headers=admin).json()
    assert body["errors"][0]["extensions"]["status"] == 422, body
    rest = env.http.get("/api/v1/audit-events", params={"object_id": too_long}, headers=admin)
    assert rest.status_code == 422, rest.text
