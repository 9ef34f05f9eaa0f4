"""`require_scopes(...)`: 401 without a token, 403 `insufficient_scope` without the scope, through on a probe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.auth.deps import require_scopes
from app.auth.principal import Principal, Scope
from app.identity.models import Role
from tests.identity.conftest import BASE_URL, World, bearer, mint_user_token

probe = APIRouter()


@probe.post("/api/v1/_scoped")
def scoped(principal: Annotated[Principal, Depends(require_scopes(Scope.solutions_write))]) -> dict[str, str]:
    return {"subject": principal.subject}


def test_require_scopes(app: FastAPI, iengine: Engine, world: World) -> None:
    app.include_router(probe)
    with TestClient(app, base_url=BASE_URL) as api:
        anonymous = api.post("/api/v1/_scoped")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="citymarket"'
        assert anonymous.headers["content-type"] == "application/problem+json"

        lacking = mint_user_token(app, iengine, world, Role.vendor_member, scopes=frozenset({"vendors:write"}))
        refused = api.post("/api/v1/_scoped", headers=bearer(lacking))
        assert refused.status_code == 403
        challenge = refused.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="solutions:write"' in challenge
        assert refused.json()["required_scopes"] == ["solutions:write"]

        holding = mint_user_token(app, iengine, world, Role.vendor_member)
        assert api.post("/api/v1/_scoped", headers=bearer(holding)).json() == {
            "subject": f"user:{world.actors[Role.vendor_member].user_id}"
        }
        bad = api.post("/api/v1/_scoped", headers=bearer(holding + "x"))
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["www-authenticate"]
