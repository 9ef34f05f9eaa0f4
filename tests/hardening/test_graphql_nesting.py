"""A GraphQL body nested deeper than the JSON parser can follow is refused as the client's mistake (issue 12)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

QUERY = "query ($id: Int!) { city(id: $id) { id } }"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [100_000, 500], ids=["100k", "500"])
def test_variables_nested_too_deep_are_a_400_not_a_500(read_client: TestClient, depth: int) -> None:
    body = f'{{"query": "{QUERY}", "variables": {{"id": 1, "deep": {_nested(depth)}}}}}'
    response = read_client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    if depth > 1000:  # past the interpreter's recursion limit: refused
        assert response.status_code == 400, response.text
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert "nested too deeply" in error["message"]
    else:  # parsed; the undeclared variable is ignored
        assert response.status_code == 200, response.text
        assert response.json()["data"]["city"]["id"] == 1


def test_rest_and_graphql_answer_the_same_deep_body_alike(read_client: TestClient) -> None:
    body = f'{{"name": "x", "deep": {_nested(100_000)}}}'
    rest = read_client.post("/api/v1/twinnings", content=body, headers={"Content-Type": "application/json"})
    graphql = read_client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert rest.status_code == 400, rest.text
    assert graphql.status_code == 400, graphql.text
