"""Health, readiness, metrics and request ids."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_and_readiness(read_client: TestClient) -> None:
    assert read_client.get("/healthz").json() == {"status": "ok"}
    ready = read_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


def test_request_id_is_echoed_or_made(read_client: TestClient) -> None:
    mine = read_client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    made = read_client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


def test_metrics_count_requests_by_route(read_client: TestClient) -> None:
    read_client.get("/api/v1/kpis/EN-EN-AQ-1C")
    read_client.get("/api/v1/kpis/NOPE")
    text = read_client.get("/metrics").text
    assert 'citymarket_http_requests_total{method="GET",route="/api/v1/kpis/{slug}",status="200"}' in text
    assert 'route="/api/v1/kpis/{slug}",status="404"' in text
    assert "citymarket_http_request_duration_seconds_bucket" in text


def test_openapi_documents_the_api(read_client: TestClient) -> None:
    spec = read_client.get("/openapi.json").json()
    assert "/api/v1/kpis" in spec["paths"]
    assert "/api/v1/cities/{city_id}" in spec["paths"]


def test_a_database_that_is_down_is_a_503_problem_not_a_500(db: object) -> None:
    import sqlalchemy as sa

    from app.main import create_app
    from tests.conftest import TestDatabase

    assert isinstance(db, TestDatabase)
    # An engine whose connections always fail, as when the database server is gone.
    broken = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    app = create_app(db.settings(), engine=broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/kpis")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert "nothing was changed" in response.json()["detail"]
