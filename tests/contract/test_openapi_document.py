"""The OpenAPI document says what the service does (issue 12, "Contract"): walked operation by operation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
WRITES = {"post", "put", "patch", "delete"}
OAUTH = {"/oauth/token", "/oauth/revoke"}


@pytest.fixture(scope="module")
def document(read_client: TestClient) -> dict[str, Any]:
    response = read_client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if path not in OAUTH
    ]


def test_every_error_response_is_a_problem(document: dict[str, Any]) -> None:
    wrong = [
        f"{method.upper()} {path} {code}"
        for path, method, operation in _operations(document)
        for code, response in operation["responses"].items()
        if int(code) >= 400 and set(response.get("content", {})) != {PROBLEM}
    ]
    assert not wrong
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]


def test_operations_with_input_document_422(document: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(document)
        if (operation.get("parameters") or operation.get("requestBody")) and "422" not in operation["responses"]
    ]
    assert not missing


def test_operations_on_an_id_document_404(document: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(document)
        if "{" in path and "404" not in operation["responses"]
    ]
    assert not missing


# Writes for people without a token (the mailed token is the proof): no security, no 401/403.
PUBLIC_WRITES = {
    ("post", "/api/v1/password-reset"),
    ("post", "/api/v1/password-reset/confirm"),
    ("post", "/api/v1/invitations/accept"),
    ("post", "/api/v1/signup"),
    ("post", "/api/v1/signup/verify"),
}


def test_writes_document_auth_malformed_json_and_unavailability(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        if method not in WRITES:
            continue
        codes = set(operation["responses"])
        if (method, path) in PUBLIC_WRITES:
            assert "security" not in operation, f"{method.upper()} {path}"
            assert {"400", "422", "503"} <= codes, f"{method.upper()} {path}: {sorted(codes)}"
            continue
        assert {"401", "403", "503"} <= codes, f"{method.upper()} {path}: {sorted(codes)}"
        if "requestBody" in operation and "json" in str(operation["requestBody"]["content"]):
            assert "400" in codes, f"{method.upper()} {path}"
        assert operation.get("security") == [{"oauth2": []}], f"{method.upper()} {path}"


def test_if_match_writes_document_412_and_428(document: dict[str, Any]) -> None:
    patch = document["paths"]["/api/v1/cities/{city_id}"]["patch"]["responses"]
    assert {"412", "428"} <= set(patch)


def test_oauth_endpoints_speak_oauth_and_document_429(document: dict[str, Any]) -> None:
    token = document["paths"]["/oauth/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert set(token["responses"]["400"]["content"]) == {"application/json"}
    assert set(token["responses"]["429"]["content"]) == {PROBLEM}
    flows = document["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"


def _parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    operation = document["paths"][path]["get"]
    found: dict[str, Any] = next(p for p in operation["parameters"] if p["name"] == name)
    return found


def test_cursor_is_documented_as_opaque_with_its_constraint(document: dict[str, Any]) -> None:
    cursor = _parameter(document, "/api/v1/cities", "cursor")
    schema = cursor["schema"]["anyOf"][0]
    assert schema["pattern"] == "^[A-Za-z0-9_-]*$"
    assert schema["maxLength"] == 4096
    assert "422" in cursor["description"]


def test_search_type_is_an_enum(document: dict[str, Any]) -> None:
    schema = _parameter(document, "/api/v1/search", "type")["schema"]["anyOf"][0]
    assert set(schema["items"]["enum"]) == {"solution", "case_study", "vendor", "guideline"}


def test_comments_document_their_filter_requirement(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/comments"]["get"]
    assert "exactly one of `challenge` and `proposal`" in operation["description"]
    assert {"404", "422"} <= set(operation["responses"])


def test_text_inputs_document_refused_control_characters(document: dict[str, Any]) -> None:
    title = document["components"]["schemas"]["ChallengeCreateIn"]["properties"]["title"]
    assert "\\u0000-\\u001f" in title["pattern"]


def test_malformed_cursor_is_the_documented_422(read_client: TestClient) -> None:
    response = read_client.get("/api/v1/cities", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


def test_malformed_json_is_the_documented_400(client: TestClient) -> None:
    response = client.post("/api/v1/twinnings", content=b'{"city_a_id": ', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/malformed-json")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/cities/1", "GET, PATCH"),
        ("PUT", "/api/v1/vendors/1", "GET, PATCH"),
        ("DELETE", "/api/v1/cities", "GET, POST"),
        ("POST", "/api/v1/kpis", "GET"),
    ],
)
def test_405_allow_lists_every_method_of_the_path(read_client: TestClient, method: str, path: str, allow: str) -> None:
    response = read_client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == PROBLEM
