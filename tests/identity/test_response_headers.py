"""Private answers are not cached (issue 12): `Cache-Control: no-store` on every answer to a request with a
token, `Vary: Authorization` and `X-Content-Type-Options: nosniff` on every answer, REST and GraphQL alike."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.identity.models import Role
from tests.identity.conftest import World, bearer, mint_user_token


def _vary(response: object) -> set[str]:
    headers = response.headers  # type: ignore[attr-defined]
    return {part.strip().lower() for part in headers.get("vary", "").split(",") if part.strip()}


def test_authenticated_answers_are_not_stored(api: TestClient, app: FastAPI, iengine: Engine, world: World) -> None:
    city = world.city["a"]
    with iengine.begin() as connection:
        connection.execute(sa.text("UPDATE city SET data_public = :no WHERE id = :id"), {"no": False, "id": city})
    token = bearer(mint_user_token(app, iengine, world, Role.city_official))
    answers = [
        api.get("/api/v1/me", headers=token),
        api.get(f"/api/v1/cities/{city}/kpi-values", headers=token),
        api.get(f"/api/v1/cities/{city}/kpi-values/export", params={"format": "csv"}, headers=token),
        api.post("/graphql", json={"query": "{ me { subject } }"}, headers=token),
        api.get("/api/v1/cities/999999", headers=token),  # errors too
    ]
    for response in answers:
        assert response.status_code in (200, 404), response.text
        assert response.headers["cache-control"] == "no-store", response.url
        assert "authorization" in _vary(response)
        assert response.headers["x-content-type-options"] == "nosniff"


def test_public_answers_vary_on_authorization_and_are_not_sniffed(api: TestClient) -> None:
    for response in (
        api.get("/api/v1/kpis", params={"limit": 1}),
        api.get("/api/v1/kpis", params={"limit": 500}),  # a problem+json error
        api.get("/healthz"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "authorization" in _vary(response)
        assert "cache-control" not in response.headers
    # An endpoint that chose its own caching keeps it, with or without a token.
    jwks = api.get("/.well-known/jwks.json", headers={"Authorization": "Bearer whatever"})
    assert jwks.headers["cache-control"] == "public, max-age=300"
