"""Query and path parameters, and GraphQL string arguments, refuse control characters as bodies do (issue 12):
a 422 problem naming the parameter on REST, VALIDATION_ERROR naming the argument on GraphQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("path", "field", "char"),
    [
        ("/api/v1/search?q=water%00leak", "query.q", "U+0000"),
        ("/api/v1/procurement-guidelines?category=%E2%80%AEWater", "query.category", "U+202E"),
        ("/api/v1/kpis?dimension=Environ%1Bment", "query.dimension", "U+001B"),
        ("/api/v1/kpis/water%00supply", "path.slug", "U+0000"),
    ],
)
def test_rest_parameters_with_control_characters_are_a_422_naming_them(
    read_client: TestClient, path: str, field: str, char: str
) -> None:
    response = read_client.get(path)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/validation-error")
    assert [e["field"] for e in body["errors"]] == [field]
    assert char in body["errors"][0]["message"]
    assert field in body["detail"]


def test_plain_parameters_still_answer(read_client: TestClient) -> None:
    assert read_client.get("/api/v1/procurement-guidelines", params={"category": "Water and Sanitation"}).is_success
    assert read_client.get("/api/v1/kpis", params={"dimension": "Environment"}).status_code == 200
    schema = read_client.get("/openapi.json").json()
    q = next(p for p in schema["paths"]["/api/v1/search"]["get"]["parameters"] if p["name"] == "q")
    assert "\\u0000-\\u001f" in q["schema"]["pattern"]  # the document says what is refused


def _graphql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($c: String) { procurementGuidelines(category: $c) { totalCount } }", {"c": "Water\u202eSanitation"}),
        ('{ procurementGuidelines(category: "Water\\u0000") { totalCount } }', {}),
        ('query($f: [String!]) { search(q: "x", facets: $f) { total } }', {"f": ["type", "bad\x07"]}),
    ],
)
def test_graphql_string_arguments_with_control_characters_are_refused(
    read_client: TestClient, query: str, variables: dict[str, Any]
) -> None:
    body = _graphql(read_client, query, **variables)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert error["extensions"]["status"] == 422
    assert error["message"].startswith("Invalid argument: ")
    assert "contains the control character" in error["message"]


def test_graphql_plain_string_arguments_still_answer(read_client: TestClient) -> None:
    body = _graphql(read_client, "query($c: String) { procurementGuidelines(category: $c) { totalCount } }", c="Water")
    assert "errors" not in body
