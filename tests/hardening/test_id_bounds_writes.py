"""Ids too large for the database in writes: bodies, ?actor= and If-Match versions (issue 12)."""

from __future__ import annotations

import pytest

from app.identity.models import Role
from tests.api.writes_city.conftest import Env, assert_problem

TOO_BIG = 2**63


def test_an_id_too_large_in_a_body_is_a_422(env: Env) -> None:
    response = env.http.post(
        "/api/v1/twinnings",
        json={"city_a_id": env.city_a, "city_b_id": TOO_BIG},
        headers=env.auth(Role.city_official),
    )
    assert_problem(response, 422, "city_b_id")


def test_the_audit_trail_refuses_an_actor_too_large(env: Env) -> None:
    response = env.http.get(f"/api/v1/audit-events?actor={TOO_BIG}", headers=env.auth(Role.admin))
    assert_problem(response, 422, "query.actor")


@pytest.mark.parametrize("version", [str(TOO_BIG), "9" * 5000], ids=["2**63", "5000 digits"])
def test_an_if_match_version_too_large_is_a_412(env: Env, version: str) -> None:
    vendor = env.world.vendor["a"]
    response = env.http.patch(
        f"/api/v1/vendors/{vendor}",
        json={"name": "Identity Vendor A AS"},
        headers={**env.auth(Role.vendor_member), "If-Match": f'"vendor-{vendor}-v{version}"'},
    )
    assert_problem(response, 412, "vendor")
