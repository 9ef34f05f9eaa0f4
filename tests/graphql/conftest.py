"""Fixtures of the GraphQL suite.

`api` is the catalogue read API's app over its own seeded database with unpublished rows added (drafts, a
draft case study and guideline, hidden hub entries, a proposal for a draft), from tests/api/conftest.py, so
that visibility rules have something to hide; `admin_token` is a real access token of a platform admin's
machine client on that database (client credentials at /oauth/token)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.auth.keys import ManagedKey, generate_key, new_kid
from app.core.config import Environment
from app.core.db import unit_of_work
from app.identity.models import OrganisationKind
from app.identity.service import create_client, ensure_organisation
from app.main import create_app
from tests.api.conftest import api, api_db, api_engine  # noqa: F401  (fixtures of this suite too)
from tests.conftest import ReadOnlyGuard, TestDatabase, guarded_engine


def post(client: TestClient, query: str, headers: dict[str, str] | None = None, **variables: Any) -> dict[str, Any]:
    """The whole GraphQL answer (data and errors) of a POST; GraphQL answers 200 even for refused queries."""
    response = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(client: TestClient, query: str, headers: dict[str, str] | None = None, **variables: Any) -> dict[str, Any]:
    """The data of a query that must succeed."""
    body = post(client, query, headers, **variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def refusal(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """The one error of a query refused before it ran (no data at all)."""
    body = post(client, query, **variables)
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


@pytest.fixture(scope="session")
def admin_token(api: TestClient, api_engine: Engine) -> str:  # noqa: F811
    # Set-up that every reader of the shared database then uses: the client and its token are written once.
    with ReadOnlyGuard.of(api_engine).allowing_writes():
        with unit_of_work(api_engine) as session:
            platform = ensure_organisation(session, OrganisationKind.platform)
            new = create_client(session, name="GraphQL parity admin", organisation=platform)
            client_id, secret = new.client.client_id, new.secret
        response = api.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret or ""))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def production_settings(db: TestDatabase, **overrides: Any) -> Any:
    """Production settings that start (real secrets, a configured signing key, an https base URL)."""
    key = ManagedKey(key=generate_key("ES256"), kid=new_kid(), alg="ES256", created_at=0)
    keys = json.dumps({"keys": [dict(key.key.as_dict(private=True, kid=key.kid, alg="ES256", use="sig"))]})
    return db.settings(
        env=Environment.production,
        secret_key="p" * 48,
        jwt_private_keys=keys,
        public_base_url="https://citymarket.example",
        **overrides,
    )


@pytest.fixture(scope="session")
def production_client(read_db: TestDatabase) -> Iterator[TestClient]:
    """The app as production runs it, over the shared read-only seeded database."""
    engine = guarded_engine(read_db, "read_db")
    app = create_app(production_settings(read_db), engine=engine)
    with TestClient(app, base_url="https://citymarket.example") as client:
        yield client
    engine.dispose()
