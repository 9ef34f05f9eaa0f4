"""SSRF: in production a webhook must be https and resolve only to public addresses, at registration and again
at each delivery; dev allows loopback. Redirects are not followed (tests/notifications/test_webhooks.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import unit_of_work
from app.identity.models import OrganisationKind, Role
from app.notifications.delivery import retry_delay
from app.notifications.models import NotifyEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.notifications.service import new_secret
from app.notifications.ssrf import UnsafeUrl, check_url
from tests.conftest import TestDatabase
from tests.graphql.conftest import production_settings
from tests.identity.conftest import World
from tests.notifications.conftest import Env, make_env, pump
from tests.notifications.receiver import Receiver

CORPUS = [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://127.8.9.10:8443/hook", "loopback"),
    ("https://[::1]/hook", "loopback"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://localhost/hook", "loopback"),  # a name that resolves to loopback
    ("https://10.0.0.1/hook", "private"),
    ("https://10.255.255.254/hook", "private"),
    ("https://192.168.1.10/hook", "private"),
    ("https://172.16.5.4/hook", "private"),
    ("https://[fd12:3456::1]/hook", "private"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://[fd00:ec2::254]/", "metadata"),
    ("https://169.254.1.1/hook", "link-local"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://100.64.0.1/hook", "not a public"),
    ("https://0.0.0.0/hook", "not a public"),
    ("http://hooks.example.com/hook", "must be https"),
    ("ftp://hooks.example.com/hook", "must be http"),
    ("https://user:pw@hooks.example.com/hook", "credentials"),
]


@pytest.mark.parametrize(("url", "why"), CORPUS)
def test_production_refuses_the_corpus(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check_url(url, production=True)


def test_dev_allows_loopback_but_nothing_else_private() -> None:
    assert check_url("http://127.0.0.1:8600/hook", production=False).address == "127.0.0.1"
    assert check_url("http://localhost:8600/hook", production=False).address in ("127.0.0.1", "::1")
    assert check_url("https://8.8.8.8/hook", production=True).address == "8.8.8.8"  # a public address passes
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://192.168.0.1/"):
        with pytest.raises(UnsafeUrl):
            check_url(url, production=False)


def test_retries_back_off_exponentially_within_the_cap() -> None:
    settings = Settings(webhook_retry_base_seconds=5, webhook_retry_max_delay_seconds=3600)
    assert [retry_delay(settings, n) for n in (1, 2, 3, 4, 5, 6)] == [5, 20, 80, 320, 1280, 3600]


@pytest.fixture
def prod(ndb: TestDatabase, world_template: tuple[TestDatabase, World]) -> Iterator[Env]:
    settings = production_settings(ndb)
    chosen = settings.model_dump(include={"env", "secret_key", "jwt_private_keys", "public_base_url"})
    yield from make_env(ndb, world_template[1], **chosen)


def test_production_refuses_at_registration_and_again_at_delivery(prod: Env, receiver: Receiver) -> None:
    vendor = prod.auth(Role.vendor_member)
    for url in ("https://localhost/hook", "https://169.254.169.254/", "http://example.com/hook"):
        answer = prod.api.post("/api/v1/webhooks", json={"url": url, "events": ["vendor.verified"]}, headers=vendor)
        assert answer.status_code == 422, url
        assert answer.json()["errors"][0]["field"] == "body.url"
    # An endpoint that passed registration but whose name now resolves to loopback (DNS rebinding): the
    # delivery-time check refuses it, and the receiver on that address never hears a thing.
    rebound = f"https://localhost:{receiver.port}/hook"
    with unit_of_work(prod.engine) as session:
        endpoint = WebhookEndpoint(
            organisation_id=prod.world.organisation[(OrganisationKind.vendor, "a")],
            url=rebound,
            events=["vendor.verified"],
            secret=new_secret(),
        )
        session.add(endpoint)
    prod.verify_vendor("a")

    def attempted() -> bool:
        with Session(prod.engine) as session:
            return session.get(WebhookAttempt, 1) is not None

    pump(prod.engine, prod.settings, attempted)
    with Session(prod.engine) as session:
        attempt = session.get(WebhookAttempt, 1)
        assert attempt is not None
        assert attempt.status_code is None
        assert "loopback" in attempt.error
        assert attempt.error.startswith("refused")
        assert session.get(WebhookDelivery, attempt.delivery_id) is not None
        assert session.get(NotifyEvent, 1) is not None
    assert receiver.received == []
