"""REST and GraphQL give the same data, object by object and field by field.

For every resource, the GraphQL selection is built from what REST returns (each snake_case key becomes its
camelCase field, nested objects recursively), so a field REST shows and GraphQL lacks fails the test rather
than being skipped; then every object of every list (all pages, in the same order) and every single object
is compared value by value. Both as anonymous and as a platform admin with a real access token, over the
database of tests/api with unpublished rows, so that the visibility rules are compared too.

The per-resource tests in tests/api compare a few chosen fields; this one compares all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from graphql import GraphQLObjectType, get_named_type
from strawberry.utils.str_converters import to_camel_case

from app.core.config import Settings
from app.graphql.schema import build_schema
from tests.graphql.conftest import data

SCHEMA = build_schema(Settings())._schema
PAGE = 100
INNER = "INNER"
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# The one difference of shape: REST's city summaries (in case studies, twinnings, challenges) name the
# country by its code, GraphQL's City links the Country object. Selected as `countryCode: country { code }`
# and compared with that object's code.
ONE_LEVEL_DOWN = {("City", "country_code"): ("country", "code")}


# ------------------------------------------------------------------------------------------------ machinery


def selection(type_name: str, samples: list[dict[str, Any]]) -> str:
    """The GraphQL selection of every field the REST samples show, on `type_name`."""
    gtype = SCHEMA.get_type(type_name)
    assert isinstance(gtype, GraphQLObjectType), type_name
    keys = list(dict.fromkeys(key for sample in samples for key in sample))
    missing = [
        to_camel_case(k) for k in keys if to_camel_case(k) not in gtype.fields and (type_name, k) not in ONE_LEVEL_DOWN
    ]
    assert not missing, f"REST shows {missing} that GraphQL's {type_name} lacks"
    parts = []
    for key in keys:
        name = to_camel_case(key)
        if (type_name, key) in ONE_LEVEL_DOWN:
            field, inner = ONE_LEVEL_DOWN[type_name, key]
            parts.append(f"{name}: {field} {{ {inner} }}")
            continue
        named = get_named_type(gtype.fields[name].type)
        if isinstance(named, GraphQLObjectType):
            nested = [v for sample in samples for v in _as_list(sample.get(key)) if isinstance(v, dict)]
            parts.append(f"{name} {{ {selection(named.name, nested) if nested else '__typename'} }}")
        else:
            parts.append(name)  # scalars, enums, lists of them, and JSON
    return " ".join(parts)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _normal(value: Any) -> Any:
    if isinstance(value, str) and ISO_DATETIME.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def assert_same(rest: Any, graphql: Any, path: str) -> None:
    if isinstance(rest, dict):
        assert isinstance(graphql, dict), f"{path}: REST {rest!r}, GraphQL {graphql!r}"
        for key, value in rest.items():
            # JSON scalars (a KPI's provenance) keep their keys; fields are camelCase.
            name = key if key in graphql else to_camel_case(key)
            assert name in graphql, f"{path}.{key} missing from GraphQL"
            assert_same(value, graphql[name], f"{path}.{key}")
    elif isinstance(rest, list):
        assert isinstance(graphql, list), f"{path}: REST {rest!r}, GraphQL {graphql!r}"
        assert len(rest) == len(graphql), f"{path}: {len(rest)} items in REST, {len(graphql)} in GraphQL"
        for i, (a, b) in enumerate(zip(rest, graphql, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    else:
        if isinstance(graphql, dict) and len(graphql) == 1 and set(graphql) <= {i for _, i in ONE_LEVEL_DOWN.values()}:
            graphql = next(iter(graphql.values()))
        assert _normal(rest) == _normal(graphql), f"{path}: REST {rest!r}, GraphQL {graphql!r}"


def rest_pages(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": PAGE, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            assert body["total"] == len(items)
            return items


def graphql_pages(
    client: TestClient, headers: dict[str, str], path: list[str], template: str, selected: str
) -> list[dict[str, Any]]:
    """Every node of the connection at `path` (field names from the root); `template` is the query, with
    $after, and INNER where the connection's selection goes."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        connection_selection = f"totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {selected} }} }}"
        result: Any = data(client, template.replace(INNER, connection_selection), headers, after=after)
        for name in path:
            result = result[name]
        nodes += [edge["node"] for edge in result["edges"]]
        if not result["pageInfo"]["hasNextPage"]:
            assert result["totalCount"] == len(nodes)
            return nodes
        after = result["pageInfo"]["endCursor"]


def compare_lists(
    client: TestClient,
    headers: dict[str, str],
    rest: list[dict[str, Any]],
    type_name: str,
    path: list[str],
    template: str,
    label: str,
) -> None:
    if not rest:
        # Nothing to compare field by field: both faces must agree that there is nothing.
        assert graphql_pages(client, headers, path, template, "__typename") == [], label
        return
    nodes = graphql_pages(client, headers, path, template, selection(type_name, rest))
    assert_same(rest, nodes, label)


def compare_one(
    client: TestClient, headers: dict[str, str], rest_path: str, field: str, argument: str, type_name: str
) -> None:
    response = client.get(rest_path, headers=headers)
    assert response.status_code == 200, response.text
    rest = response.json()
    query = f"query ($key: {argument}) {{ {field} {{ {selection(type_name, [rest])} }} }}"
    key = rest_path.rsplit("/", 1)[1]
    node = data(client, query, headers, key=int(key) if key.isdigit() else key)
    assert_same(rest, next(iter(node.values())), rest_path)


# ------------------------------------------------------------------------------------------------ resources


@dataclass(frozen=True)
class Resource:
    rest: str  # the REST list, under /api/v1
    connection: str  # the root GraphQL connection
    node_type: str
    single: str  # the GraphQL field of one object, with $key
    key_type: str
    single_type: str
    key: str = "id"  # the REST item's key for its own URL


RESOURCES = {
    "kpis": Resource("kpis", "kpis", "Kpi", "kpi(slug: $key)", "String!", "Kpi", key="slug"),
    "cities": Resource("cities", "cities", "City", "city(id: $key)", "Int!", "CityDetail"),
    "vendors": Resource("vendors", "vendors", "Vendor", "vendor(id: $key)", "Int!", "Vendor"),
    "solutions": Resource("solutions", "solutions", "Solution", "solution(id: $key)", "Int!", "Solution"),
    "case studies": Resource("case-studies", "caseStudies", "CaseStudy", "caseStudy(id: $key)", "Int!", "CaseStudy"),
    "guidelines": Resource(
        "procurement-guidelines",
        "procurementGuidelines",
        "ProcurementGuideline",
        "procurementGuideline(id: $key)",
        "Int!",
        "ProcurementGuideline",
    ),
    "hubs": Resource("hubs", "hubs", "Hub", "hub(id: $key)", "Int!", "Hub"),
    "twinnings": Resource("twinnings", "twinnings", "Twinning", "twinning(id: $key)", "Int!", "Twinning"),
    "challenges": Resource("challenges", "challenges", "Challenge", "challenge(id: $key)", "Int!", "Challenge"),
}


@pytest.fixture(params=["anonymous", "admin"])
def caller(request: pytest.FixtureRequest, admin_token: str) -> dict[str, str]:
    return {} if request.param == "anonymous" else {"Authorization": f"Bearer {admin_token}"}


@pytest.mark.parametrize("name", RESOURCES)
def test_every_object_of_the_list_is_the_same(api: TestClient, caller: dict[str, str], name: str) -> None:
    resource = RESOURCES[name]
    rest = rest_pages(api, f"/api/v1/{resource.rest}", caller)
    assert rest, f"no {name} to compare"
    compare_lists(
        api,
        caller,
        rest,
        resource.node_type,
        [resource.connection],
        f"query ($after: String) {{ {resource.connection}(first: {PAGE}, after: $after) {{ {INNER} }} }}",
        f"GET /api/v1/{resource.rest}",
    )


@pytest.mark.parametrize("name", RESOURCES)
def test_every_single_object_is_the_same(api: TestClient, caller: dict[str, str], name: str) -> None:
    resource = RESOURCES[name]
    for item in rest_pages(api, f"/api/v1/{resource.rest}", caller):
        compare_one(
            api,
            caller,
            f"/api/v1/{resource.rest}/{item[resource.key]}",
            resource.single,
            resource.key_type,
            resource.single_type,
        )


def test_hub_catalogues_are_the_same(api: TestClient, caller: dict[str, str]) -> None:
    hubs = rest_pages(api, "/api/v1/hubs", caller)
    compared = 0
    for hub in hubs:
        rest = rest_pages(api, f"/api/v1/hubs/{hub['id']}/catalogue", caller)
        compared += len(rest)
        compare_lists(
            api,
            caller,
            rest,
            "CatalogueEntry",
            ["hub", "catalogue"],
            f"query ($after: String) {{ hub(id: {hub['id']}) {{ "
            f"catalogue(first: {PAGE}, after: $after) {{ {INNER} }} }} }}",
            f"GET /api/v1/hubs/{hub['id']}/catalogue",
        )
    assert compared > 0


def test_proposals_are_the_same(api: TestClient, caller: dict[str, str]) -> None:
    compared = 0
    for challenge in rest_pages(api, "/api/v1/challenges", caller):
        rest = rest_pages(api, f"/api/v1/challenges/{challenge['id']}/proposals", caller)
        if rest:
            query = f"{{ challenge(id: {challenge['id']}) {{ proposals {{ {selection('Proposal', rest)} }} }} }}"
            assert_same(rest, data(api, query, caller)["challenge"]["proposals"], f"challenge {challenge['id']}")
        else:
            query = f"{{ challenge(id: {challenge['id']}) {{ proposals {{ id }} }} }}"
            assert data(api, query, caller)["challenge"]["proposals"] == []
        for proposal in rest:
            compare_one(api, caller, f"/api/v1/proposals/{proposal['id']}", "proposal(id: $key)", "Int!", "Proposal")
        compared += len(rest)
    assert compared > 0


def test_comments_are_the_same(api: TestClient, caller: dict[str, str]) -> None:
    compared = 0
    for challenge in rest_pages(api, "/api/v1/challenges", caller):
        targets = [("challenge", challenge["id"])]
        targets += [
            ("proposal", p["id"])
            for p in rest_pages(api, f"/api/v1/challenges/{challenge['id']}/proposals", caller)
            if p["text"] is not None  # a disclosed summary only: its thread stays confidential
        ]
        for target, target_id in targets:
            rest = rest_pages(api, "/api/v1/comments", caller, **{target: target_id})
            compared += len(rest)
            compare_lists(
                api,
                caller,
                rest,
                "Comment",
                ["comments"],
                f"query ($after: String) {{ comments({target}: {target_id}, "
                f"first: {PAGE}, after: $after) {{ {INNER} }} }}",
                f"GET /api/v1/comments?{target}={target_id}",
            )
    assert compared > 0


def test_the_admin_token_sees_what_anonymous_does_not(api: TestClient, admin_token: str) -> None:
    """The admin comparisons above do compare unpublished listings (the token is honoured on both faces)."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    query = "{ solutions(first: 1) { totalCount } }"
    anonymous_total = data(api, query)["solutions"]["totalCount"]
    admin_total = data(api, query, admin)["solutions"]["totalCount"]
    assert admin_total > anonymous_total
    assert admin_total == len(rest_pages(api, "/api/v1/solutions", admin))
