"""Failed attempts at the token endpoint and the login page are limited per client/account and per address,
on memory storage and on Redis; only failures count, so a legitimate client is never slowed by others."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.identity.models import Role
from tests.identity.conftest import BASE_URL, PASSWORD, REDIRECT_URI, World, parse_form, pkce_pair

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMITS = {"auth_failure_limit": "3 per 1 minute", "auth_failure_limit_per_address": "6 per 1 minute"}


@pytest.fixture(params=["memory", "redis"])
def limited_app(request: pytest.FixtureRequest, make_app: Callable[..., FastAPI]) -> Iterator[FastAPI]:
    if request.param == "memory":
        yield make_app(**LIMITS)
        return
    prefix = f"cmtest-{uuid.uuid4().hex[:10]}"
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not reachable at 127.0.0.1:6379 (the Redis storage lane needs it)")
    app = make_app(**LIMITS, redis_url=REDIS_URL, rate_limit_key_prefix=prefix)
    app.state.redis_prefix = prefix
    yield app
    for key in connection.scan_iter(f"{prefix}*"):
        connection.delete(key)
    connection.close()


def _from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, base_url=BASE_URL, client=(address, 40000))


def _client_credentials(client: TestClient, client_id: str, secret: str | None) -> int:
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret or ""))
    return response.status_code


def test_token_endpoint_failures_are_limited_per_client(limited_app: FastAPI, world: World) -> None:
    victim = world.machines["vendor_sync"]
    legit = world.machines["city_pipeline"]
    with _from(limited_app, "10.0.0.66") as attacker, _from(limited_app, "10.0.0.7") as pipeline:
        # The legitimate client works, again and again: successes cost nothing.
        for _ in range(8):
            assert _client_credentials(pipeline, legit.client_id, legit.secret) == 200
        for _ in range(3):
            assert _client_credentials(attacker, victim.client_id, "guess") == 401
        refused = attacker.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(victim.client_id, "guess")
        )
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["status"] == 429
        # Over budget, even the right secret is not looked at (guessing must stop)...
        assert _client_credentials(attacker, victim.client_id, victim.secret) == 429
        # ...while the other client, from its own address, is untouched by all this.
        for _ in range(5):
            assert _client_credentials(pipeline, legit.client_id, legit.secret) == 200


def test_token_endpoint_failures_are_limited_per_address(limited_app: FastAPI, world: World) -> None:
    legit = world.machines["city_pipeline"]
    with _from(limited_app, "10.0.0.99") as sprayer, _from(limited_app, "10.0.0.8") as pipeline:
        # Many client ids, two failures each (under the per-client budget): the address budget stops it.
        statuses = [_client_credentials(sprayer, f"made-up-{i}", "x") for i in range(6)]
        assert statuses == [401] * 6
        assert _client_credentials(sprayer, "made-up-new", "x") == 429
        assert _client_credentials(sprayer, legit.client_id, legit.secret) == 429
        assert _client_credentials(pipeline, legit.client_id, legit.secret) == 200


def _login(browser: TestClient, world: World, email: str, password: str) -> int:
    _, challenge = pkce_pair()
    page = browser.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": world.machines["public_spa"].client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200
    fields = {**parse_form(page.text).fields, "email": email, "password": password, "action": "allow"}
    return browser.post("/oauth/authorize", data=fields, follow_redirects=False).status_code


def test_login_failures_are_limited_per_account(limited_app: FastAPI, world: World) -> None:
    target = world.actors[Role.admin].email
    other = world.actors[Role.vendor_member].email
    with _from(limited_app, "10.1.0.66") as attacker, _from(limited_app, "10.1.0.7") as person:
        assert [_login(attacker, world, target, f"guess-{i}") for i in range(3)] == [401, 401, 401]
        assert _login(attacker, world, target, "guess-4") == 429
        assert _login(attacker, world, target, PASSWORD) == 429
        # Someone else signing in elsewhere is not affected; nor are successes counted.
        for _ in range(4):
            assert _login(person, world, other, PASSWORD) == 302


def test_the_login_429_is_problem_json_or_a_page(limited_app: FastAPI, world: World) -> None:
    target = world.actors[Role.hub_curator].email
    with _from(limited_app, "10.2.0.66") as attacker:
        for i in range(3):
            _login(attacker, world, target, f"guess-{i}")
        _, challenge = pkce_pair()
        page = attacker.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": world.machines["public_spa"].client_id,
                "redirect_uri": REDIRECT_URI,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        fields = {**parse_form(page.text).fields, "email": target, "password": "x", "action": "allow"}
        as_api = attacker.post("/oauth/authorize", data=fields, follow_redirects=False)
        assert as_api.status_code == 429
        assert as_api.headers["content-type"] == "application/problem+json"
        assert int(as_api.headers["retry-after"]) >= 1
        as_page = attacker.post(
            "/oauth/authorize", data=fields, headers={"accept": "text/html"}, follow_redirects=False
        )
        assert as_page.status_code == 429
        assert as_page.headers["content-type"].startswith("text/html")
        assert int(as_page.headers["retry-after"]) >= 1


def test_redis_counters_are_shared_by_workers(make_app: Callable[..., FastAPI], world: World) -> None:
    """Two app instances (two workers) on one Redis: failures at one are refused at the other."""
    prefix = f"cmtest-{uuid.uuid4().hex[:10]}"
    settings = {**LIMITS, "redis_url": REDIS_URL, "rate_limit_key_prefix": prefix}
    first, second = make_app(**settings), make_app(**settings)
    victim = world.machines["vendor_sync"]
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        with _from(first, "10.3.0.66") as one, _from(second, "10.3.0.66") as two:
            for _ in range(3):
                assert _client_credentials(one, victim.client_id, "guess") == 401
            assert _client_credentials(two, victim.client_id, "guess") == 429
        assert any(True for _ in connection.scan_iter(f"{prefix}*"))
    finally:
        for key in connection.scan_iter(f"{prefix}*"):
            connection.delete(key)
        connection.close()


def test_an_unreachable_redis_fails_open(make_app: Callable[..., FastAPI], world: World) -> None:
    app = make_app(**LIMITS, redis_url="redis://127.0.0.1:1/0")
    legit = world.machines["city_pipeline"]
    with _from(app, "10.4.0.1") as pipeline:
        assert _client_credentials(pipeline, legit.client_id, legit.secret) == 200
        assert _client_credentials(pipeline, legit.client_id, "wrong") == 401
