"""Production hides the schema (issue 12): no "Did you mean ...?" for arguments, enum values, types or input
fields, in the query or in its variables (dev keeps them: they help)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import TestDatabase
from tests.graphql.conftest import production_settings

BASE_URL = "https://citymarket.example"
MISTAKES: list[tuple[str, dict[str, Any]]] = [
    ('{ kpis(dimensio: "Environment") { totalCount } }', {}),  # argument
    ("{ kpis(tier: cor) { totalCount } }", {}),  # enum value
    ("query ($t: KpiTeir) { kpis(tier: $t) { totalCount } }", {}),  # type
    ("query ($t: KpiTier) { kpis(tier: $t) { totalCount } }", {"t": "cor"}),  # enum value in a variable
    (
        "mutation ($v: [KpiValueInput!]!) { upsertKpiValues(cityId: 1, values: $v) { __typename } }",
        {"v": [{"kpi": "x", "yer": 2024, "year": 2024, "value": 1, "dataQuality": "measured"}]},
    ),  # input field in a variable
]


@pytest.fixture(scope="module")
def production(read_db: TestDatabase) -> Iterator[TestClient]:
    engine = read_db.engine()
    app = create_app(production_settings(read_db), engine=engine)
    with TestClient(app, base_url=BASE_URL) as client:
        yield client
    engine.dispose()


def _messages(client: TestClient, query: str, variables: dict[str, Any]) -> list[str]:
    body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    assert body.get("errors"), body
    return [error["message"] for error in body["errors"]]


@pytest.mark.parametrize(("query", "variables"), MISTAKES)
def test_production_makes_no_suggestions(production: TestClient, query: str, variables: dict[str, Any]) -> None:
    for message in _messages(production, query, variables):
        assert "Did you mean" not in message, message


def test_dev_still_suggests(read_client: TestClient) -> None:
    query, variables = MISTAKES[0]
    assert any("Did you mean 'dimension'" in m for m in _messages(read_client, query, variables))


# ---------------------------------------------------------------------------------------------------- /metrics


def test_production_metrics_are_off_without_a_token(production: TestClient) -> None:
    answer = production.get("/metrics")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert "citymarket_http_requests_total" not in answer.text


def test_metrics_need_the_configured_bearer_token(read_db: TestDatabase) -> None:
    engine = read_db.engine()
    app = create_app(production_settings(read_db, metrics_token="m" * 40), engine=engine)
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            for headers in ({}, {"Authorization": "Bearer " + "m" * 39}, {"Authorization": "Basic " + "m" * 40}):
                refused = client.get("/metrics", headers=headers)
                assert refused.status_code == 401
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.headers["www-authenticate"].startswith("Bearer")
            scraped = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
            assert scraped.status_code == 200
            assert "citymarket_http_requests_total" in scraped.text
    finally:
        engine.dispose()
