"""Nobody can lock someone else out by failing on purpose (issue 12): failures of a public client count
per (client, address), a bad code or refresh token is not a client authentication failure, and an
account's ceiling refuses only addresses that failed recently."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.identity.models import Role
from tests.identity.conftest import (
    BASE_URL,
    PASSWORD,
    REDIRECT_URI,
    AppFactory,
    World,
    browser_login,
    pkce_pair,
)

LIMITS = {
    "auth_failure_limit": "3 per 1 minute",
    "auth_failure_limit_per_address": "20 per 1 minute",
    "auth_failure_limit_per_account": "5 per 1 minute",
}


def _from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, base_url=BASE_URL, client=(address, 40000))


def _code(browser: TestClient, client_id: str, email: str, password: str = PASSWORD) -> tuple[int, str, str]:
    """Sign in through the login form (the suite's `browser_login`): (status, code, verifier)."""
    verifier, challenge = pkce_pair()
    url = browser.build_request(
        "GET",
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    ).url
    answer = browser_login(browser, str(url), email, password)
    code = parse_qs(urlsplit(answer.headers.get("location", "")).query).get("code", [""])[0]
    return answer.status_code, code, verifier


def _exchange(browser: TestClient, client_id: str, code: str, verifier: str) -> dict[str, str]:
    response = browser.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "code": code,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def test_failing_as_a_public_client_does_not_lock_its_users(make_app: AppFactory, world: World) -> None:
    app = make_app(**LIMITS)
    public = world.machines["public_spa"].client_id
    with _from(app, "10.5.0.66") as attacker, _from(app, "10.5.0.7") as person:
        # Bad refresh tokens, bad codes and a made-up secret, all naming the public client.
        for data in (
            {"grant_type": "refresh_token", "refresh_token": "guess"},
            {
                "grant_type": "authorization_code",
                "code": "guess",
                "redirect_uri": REDIRECT_URI,
                "code_verifier": "x" * 43,
            },
            {"grant_type": "refresh_token", "refresh_token": "guess-2", "client_secret": "guess"},
        ):
            assert attacker.post("/oauth/token", data={"client_id": public, **data}).status_code in (400, 401)
        refused = attacker.post(
            "/oauth/token", data={"client_id": public, "grant_type": "refresh_token", "refresh_token": "x"}
        )
        assert refused.status_code == 429  # the attacker stopped himself...
        assert refused.headers["content-type"] == "application/problem+json"
        # ...and only himself: a person's code exchange and refresh, from another address, go through.
        status, code, verifier = _code(person, public, world.actors[Role.vendor_member].email)
        assert status == 302
        tokens = _exchange(person, public, code, verifier)
        refreshed = person.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "client_id": public, "refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 200, refreshed.text


def test_a_bad_code_at_a_confidential_client_does_not_lock_the_client(make_app: AppFactory, world: World) -> None:
    """The client authenticated: a wrong code is the caller's failure, not a guess at the client's secret."""
    app = make_app(**LIMITS)
    web = world.machines["confidential_web"]
    with _from(app, "10.5.1.66") as stale, _from(app, "10.5.1.7") as person:
        for i in range(3):
            bad = stale.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": f"stale-{i}"},
                auth=(web.client_id, web.secret or ""),
            )
            assert bad.status_code == 400
        status, code, verifier = _code(person, web.client_id, world.actors[Role.vendor_member].email)
        assert status == 302
        exchanged = person.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "redirect_uri": REDIRECT_URI,
                "code": code,
                "code_verifier": verifier,
            },
            auth=(web.client_id, web.secret or ""),
        )
        assert exchanged.status_code == 200, exchanged.text


def test_a_confidential_clients_wrong_secrets_still_lock_it_everywhere(make_app: AppFactory, world: World) -> None:
    app = make_app(**LIMITS)
    sync = world.machines["vendor_sync"]
    with _from(app, "10.5.2.66") as attacker, _from(app, "10.5.2.7") as owner:
        for _ in range(3):
            wrong = attacker.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(sync.client_id, "x"))
            assert wrong.status_code == 401
        right = owner.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(sync.client_id, sync.secret or "")
        )
        assert right.status_code == 429


def test_wrong_passwords_do_not_lock_the_owner_out(make_app: AppFactory, world: World) -> None:
    app = make_app(**LIMITS)
    spa = world.machines["public_spa"].client_id
    email = world.actors[Role.admin].email
    variants = [email, email.upper(), f"  {email} ", email.title(), f"\t{email.upper()}"]
    with _from(app, "10.6.0.66") as attacker, _from(app, "10.6.0.7") as owner:
        statuses = [_code(attacker, spa, variants[i % len(variants)], f"guess-{i}")[0] for i in range(4)]
        # Case and whitespace variants are one account: the (account, address) budget of 3 is spent.
        assert statuses == [401, 401, 401, 429]
        # The owner, from an address with no recent failures, signs in.
        assert _code(owner, spa, email)[0] == 302


def test_the_account_ceiling_stops_a_distributed_guess_but_not_a_clean_address(
    make_app: AppFactory, world: World
) -> None:
    app = make_app(**LIMITS)
    spa = world.machines["public_spa"].client_id
    email = world.actors[Role.hub_curator].email
    # Five addresses, one wrong password each: the account's ceiling (5) is reached.
    for i in range(5):
        with _from(app, f"10.7.0.{i + 10}") as guesser:
            assert _code(guesser, spa, email, "guess")[0] == 401
    with _from(app, "10.7.0.10") as guesser, _from(app, "10.7.0.200") as owner:
        # An address that failed recently gets no further guess at that account, not even the right password...
        assert _code(guesser, spa, email, PASSWORD)[0] == 429
        # ...while one with no recent failures is not refused.
        assert _code(owner, spa, email)[0] == 302
