"""Control characters are refused in every input (issue 12): a NUL or a bidirectional override (U+202E) in a
title is a 422 naming the field on REST, and a VALIDATION_ERROR naming it on GraphQL; newlines and tabs stay
allowed in multi-line text only."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from pydantic import BaseModel

import app
from app.core.text import InputModel
from tests.api.writes_catalogue.conftest import COMPLETE, VENDOR, Api, assert_problem
from tests.identity.conftest import bearer

BAD = ["Leak\x00finder", "Leak finder \u202egnp.exe", "Leak\x1b[31mfinder", "Leak\u2066finder", "Leak\x85finder"]

CREATE = """
mutation ($input: SolutionCreateInput!) {
  createSolution(input: $input) {
    ... on Solution { id }
    ... on MutationError { code fieldErrors { field message } }
  }
}
"""


def _body(api: Api, **overrides: Any) -> dict[str, Any]:
    return {**COMPLETE, "vendor_id": api.world.vendor["a"], **overrides}


def test_rest_refuses_control_characters_naming_the_field(api: Api) -> None:
    for title in BAD:  # one database for all five: each refusal writes nothing
        problem = assert_problem(api.call("POST", "/api/v1/solutions", VENDOR, json=_body(api, title=title)), 422)
        assert [e["field"] for e in problem["errors"]] == ["body.title"], title
        assert "control character U+" in problem["errors"][0]["message"]
    assert api.scalar("SELECT COUNT(*) FROM solution WHERE title LIKE 'Leak%'") == 0


def test_nested_and_list_values_are_checked_too(api: Api) -> None:
    impacts = [
        {"kpi": "EC-I-WS-3C", "expected_effect": 0.3, "note": "ok"},
        {"kpi": "EC-I-WS-3C\x00", "expected_effect": 0.1},
    ]
    problem = assert_problem(api.call("POST", "/api/v1/solutions", VENDOR, json=_body(api, kpi_impacts=impacts)), 422)
    assert "body.kpi_impacts.1.kpi" in [e["field"] for e in problem["errors"]]
    problem = assert_problem(
        api.call("POST", "/api/v1/solutions", VENDOR, json=_body(api, standards=["OGC", "ISO\u202e"])), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["body.standards"]


def test_newlines_and_tabs_only_where_text_is_multi_line(api: Api) -> None:
    created = api.call(
        "POST", "/api/v1/solutions", VENDOR, json=_body(api, description="Step one:\n\tmeter.\r\nStep two: model.")
    )
    assert created.status_code == 201, created.text
    assert created.json()["description"] == "Step one:\n\tmeter.\r\nStep two: model."
    problem = assert_problem(api.call("POST", "/api/v1/solutions", VENDOR, json=_body(api, title="Leak\nfinder")), 422)
    assert [e["field"] for e in problem["errors"]] == ["body.title"]
    problem = assert_problem(
        api.call("POST", "/api/v1/solutions", VENDOR, json=_body(api, description="Step\x00one")), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["body.description"]


def test_graphql_refuses_them_alike(api: Api) -> None:
    body = _body(api)
    variables = {
        "input": {
            "title": "Leak finder \u202egnp.exe",
            "vendorId": body["vendor_id"],
            "summary": body["summary"],
            "maturity": "market_ready",
            "priceModel": "subscription",
        }
    }
    answer = api.client.post(
        "/graphql", json={"query": CREATE, "variables": variables}, headers=bearer(api.token(VENDOR))
    )
    result = answer.json()["data"]["createSolution"]
    assert result["code"] == "VALIDATION_ERROR", result
    assert [f["field"] for f in result["fieldErrors"]] == ["input.title"]
    assert "U+202E" in result["fieldErrors"][0]["message"]


def test_every_input_schema_is_an_input_model() -> None:
    """So that a new schema cannot forget the check: every `...In` model of the app derives from InputModel."""
    missing = []
    for module_info in pkgutil.walk_packages(app.__path__, "app."):
        module = importlib.import_module(module_info.name)
        for name, obj in vars(module).items():
            ours = inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__
            if ours and name.endswith("In") and not issubclass(obj, InputModel):
                missing.append(f"{module.__name__}.{name}")
    assert missing == []
