"""Each write and each list filter declared once for both faces (docs/architecture.md, "Each write declared
once"): the lifecycle actions' REST routes and GraphQL mutations are made from the lifecycle tables, and the
list filters of both faces are validated by the same models, so GraphQL refuses what REST refuses, with the
same words."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from typing import Any

import pytest
from fastapi import routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from strawberry.utils.str_converters import to_camel_case

from app.auth.actions import ActionFace
from app.challenges.lifecycle import CHALLENGE_FACES, PROPOSAL_FACES
from app.graphql.schema import Mutation
from app.solutions.lifecycle import TRANSITIONS
from app.twinnings.lifecycle import FACES as TWINNING_FACES
from tests.graphql.conftest import post
from tests.graphql.test_mutations import MUTATION_OF

# (the REST path of the action, where {id} is the object's id; its face)
ACTIONS: list[tuple[str, ActionFace]] = [
    *((f"/api/v1/solutions/{{id}}/{t.action.value}", t.face) for t in TRANSITIONS.values()),
    *((f"/api/v1/twinnings/{{id}}/{a.value}", f) for a, f in TWINNING_FACES.items()),
    *((f"/api/v1/proposals/{{id}}/{a.value}", f) for a, f in PROPOSAL_FACES.items()),
    *((f"/api/v1/challenges/{{id}}/{a.value}", f) for a, f in CHALLENGE_FACES.items()),
]


def _route(client: TestClient, name: str) -> APIRoute:
    routes = [
        c.original_route
        for c in routing.iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(c.original_route, APIRoute) and c.original_route.name == name
    ]
    assert len(routes) == 1, f"{name}: {len(routes)} routes"
    return routes[0]


@pytest.mark.parametrize(("path", "face"), ACTIONS, ids=[f.name for _, f in ACTIONS])
def test_each_action_has_its_route_and_mutation_from_the_table(
    read_client: TestClient, path: str, face: ActionFace
) -> None:
    route = _route(read_client, face.name)
    assert re.sub(r"\{\w+\}", "{id}", route.path) == path
    assert route.methods == {"POST"}
    operation = read_client.app.openapi()["paths"][route.path]["post"]  # type: ignore[attr-defined]
    assert operation["summary"] == face.rest_summary
    assert operation["security"] == [{"oauth2": []}]
    fields = {f.name: f for f in Mutation.__strawberry_definition__.fields}  # type: ignore[attr-defined]
    mutation = fields[face.name]
    assert to_camel_case(mutation.python_name) == to_camel_case(face.name)
    assert mutation.description == face.graphql_description


@pytest.mark.parametrize(("path", "face"), ACTIONS, ids=[f.name for _, f in ACTIONS])
def test_each_action_needs_a_token_on_both_faces(read_client: TestClient, path: str, face: ActionFace) -> None:
    rest = read_client.post(path.format(id=1), headers={"If-Match": '"x-1-v1"'})
    assert rest.status_code == 401, rest.text
    # Every argument a generated or table-scoped mutation may take; unknown ones are refused before it runs.
    arguments = {"id": 1, "expectedVersion": 1}
    if face.name == "award_challenge":
        arguments["proposalId"] = 1
    given = ", ".join(f"{k}: {v}" for k, v in arguments.items())
    name = to_camel_case(face.name)
    body = post(read_client, f"mutation {{ {name}({given}) {{ ... on MutationError {{ code message }} }} }}")
    assert "errors" not in body, body
    assert body["data"][name]["code"] == "UNAUTHENTICATED"


# (the REST list, its query string, the GraphQL query field, its arguments): values a list's filter model
# refuses (a pattern, a bound, a length, an id below 1).
TOO_LONG = "k" * 65
BAD_FILTERS: list[tuple[str, str, str, str]] = [
    ("/api/v1/solutions", "country=Mars", "solutions", 'country: "Mars"'),
    ("/api/v1/solutions", "sdg=18", "solutions", "sdg: 18"),
    ("/api/v1/solutions", "sdg=0&language=eng", "solutions", 'sdg: 0, language: "eng"'),
    ("/api/v1/solutions", "vendor=0", "solutions", "vendor: 0"),
    ("/api/v1/hubs", "country=X1", "hubs", 'country: "X1"'),
    ("/api/v1/challenges", f"kpi={TOO_LONG}", "challenges", f'kpi: "{TOO_LONG}"'),
    ("/api/v1/challenges", "city=0", "challenges", "city: 0"),
    ("/api/v1/case-studies", "year_from=1800", "caseStudies", "yearFrom: 1800"),
    ("/api/v1/case-studies", "country=fra", "caseStudies", 'country: "fra"'),
    ("/api/v1/twinnings", f"kpi={TOO_LONG}", "twinnings", f'kpi: "{TOO_LONG}"'),
    ("/api/v1/cities", "country=Mars", "cities", 'country: "Mars"'),
    ("/api/v1/cities", "q=", "cities", 'q: ""'),
    ("/api/v1/kpis", "sdg=18", "kpis", "sdg: 18"),
    ("/api/v1/kpis", "sdg=0&tier=core", "kpis", "sdg: 0, tier: core"),
    ("/api/v1/vendors", "country=X1", "vendors", 'country: "X1"'),
    ("/api/v1/vendors", f"q={'v' * 101}", "vendors", f'q: "{"v" * 101}"'),
    ("/api/v1/procurement-guidelines", "language=eng", "procurementGuidelines", 'language: "eng"'),
    ("/api/v1/procurement-guidelines", f"kpi={TOO_LONG}", "procurementGuidelines", f'kpi: "{TOO_LONG}"'),
]


def _as_graphql(rest_detail: str) -> str:
    """REST's detail in GraphQL's names: `query.year_from` is the argument `yearFrom`."""
    return re.sub(r"query\.(\w+)", lambda m: to_camel_case(m.group(1)), rest_detail)


@pytest.mark.parametrize(("path", "query", "field", "arguments"), BAD_FILTERS, ids=[q for _, q, _, _ in BAD_FILTERS])
def test_both_faces_refuse_the_same_filter_values_with_the_same_message(
    read_client: TestClient, path: str, query: str, field: str, arguments: str
) -> None:
    rest = read_client.get(f"{path}?{query}")
    assert rest.status_code == 422, rest.text
    problem: dict[str, Any] = rest.json()
    assert problem["type"].endswith("/validation-error")
    body = post(read_client, f"{{ {field}({arguments}) {{ edges {{ node {{ __typename }} }} }} }}")
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION_ERROR", error
    assert error["extensions"]["status"] == 422, error
    assert error["message"] == _as_graphql(problem["detail"])


# ------------------------------------------------------------------------------------- idempotency request lines


def _creates() -> list[Any]:
    """Every mutation that takes an idempotency key (a create)."""
    return [
        f
        for f in Mutation.__strawberry_definition__.fields  # type: ignore[attr-defined]
        if any(a.python_name == "idempotency_key" for a in f.arguments)
    ]


def _path_of_name(node: ast.AST, assigned: dict[str, ast.AST]) -> str | None:
    """The route name of a `path_of(router, "name", ...)` call (or of the variable bound to one)."""
    if isinstance(node, ast.Name):
        node = assigned.get(node.id, node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "path_of":
        name = node.args[1]
        return name.value if isinstance(name, ast.Constant) else None
    return None


@pytest.mark.parametrize("field", _creates(), ids=lambda f: f.name)
def test_every_graphql_create_records_the_request_line_of_its_rest_twin(read_client: TestClient, field: Any) -> None:
    """A GraphQL create records REST's `POST <path>` for its key, so that a key spans both faces: the path
    comes from the REST route itself (`app.core.paths.path_of`), never a literal, so renaming the route
    moves it on both faces at once."""
    twins = [path for (method, path), name in MUTATION_OF.items() if name == to_camel_case(field.python_name)]
    assert len(twins) == 1, f"{field.name}: REST twins {twins}"
    [rest_route] = [
        c.original_route
        for c in routing.iter_route_contexts(read_client.app.routes)  # type: ignore[attr-defined]
        if c.path == twins[0] and "POST" in (c.methods or ())
    ]
    resolver = field.base_resolver.wrapped_func
    tree = ast.parse(textwrap.dedent(inspect.getsource(resolver)))
    body = tree.body[0]
    assert isinstance(body, ast.AsyncFunctionDef)
    nodes = [n for statement in body.body for n in ast.walk(statement)]
    literals = [n.value for n in nodes if isinstance(n, ast.Constant) and str(n.value).startswith("/api/")]
    assert literals == [], f"{field.name} spells REST paths: {literals}"
    assigned = {t.id: n.value for n in nodes if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    # create_once(session, context, key, path, ...), or run_once(session, principal, key, method, path, ...)
    # where the answer is not a 201 (a sign-up's 202).
    position = {"create_once": 3, "run_once": 4}
    calls = [n for n in nodes if isinstance(n, ast.Call) and getattr(n.func, "id", None) in position]
    assert len(calls) == 1, field.name
    named = _path_of_name(calls[0].args[position[calls[0].func.id]], assigned)  # type: ignore[attr-defined]
    assert named == rest_route.name, f"{field.name} records the path of {named}, its REST twin is {rest_route.name}"
    # The router the resolver names is the one that serves the twin (the same route object, so the same path).
    router = resolver.__globals__["rest"]
    assert rest_route in router.routes
    # And the REST twin itself takes Idempotency-Key (it runs app.core.idempotency.create_once).
    assert re.search(r"\b(create_once|run_once)\(", inspect.getsource(rest_route.endpoint))
