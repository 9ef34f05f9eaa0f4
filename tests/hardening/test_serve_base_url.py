"""`citymarket serve --port N` in dev advertises the address it serves (issuer, sign-in redirect), unless
CITYMARKET_PUBLIC_BASE_URL is set (issue 12)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Environment, Settings, get_settings
from app.core.db import unit_of_work
from app.identity.models import OAuthClient
from app.identity.seed import DEMO_CALLBACK_PATH, DEMO_CLIENT_ID, seed_demo_accounts
from tests.conftest import TestDatabase

VAR = "CITYMARKET_PUBLIC_BASE_URL"


@pytest.fixture
def serve(db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, Any]]]:
    """`citymarket serve` on this test's database in dev, up to uvicorn (which records how it was called)."""
    monkeypatch.setenv(VAR, "placeholder")
    monkeypatch.delenv(VAR)  # absent now, and absent again after the test, whatever serve sets
    monkeypatch.setenv("CITYMARKET_ENV", "dev")
    monkeypatch.setenv("CITYMARKET_DATA_DIR", str(db.data_dir))
    monkeypatch.setenv("CITYMARKET_DATABASE_URL", db.url)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *_args, **kwargs: calls.append(kwargs))  # serve imports it when run
    get_settings.cache_clear()

    def invoke(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(cli, ["serve", *args])
        assert result.exit_code == 0, result.output
        return calls[-1]

    yield invoke
    get_settings.cache_clear()


def test_in_dev_the_issuer_follows_the_port_served(serve: Callable[..., dict[str, Any]], db: TestDatabase) -> None:
    engine = db.engine()
    with unit_of_work(engine) as session:  # the demo client, as seeded on the default port
        seed_demo_accounts(session, db.settings(env=Environment.dev))
    served = serve("--port", "8104")
    assert served["port"] == 8104
    settings = get_settings()  # what uvicorn's workers build from the environment
    assert settings.issuer == "http://127.0.0.1:8104"
    with Session(engine) as session:
        client = session.exec(select(OAuthClient).where(OAuthClient.client_id == DEMO_CLIENT_ID)).one()
    engine.dispose()
    assert f"http://127.0.0.1:8104{DEMO_CALLBACK_PATH}" in client.redirect_uris


def test_a_configured_public_base_url_is_kept(
    serve: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VAR, "https://citymarket.example")
    serve("--port", "8104")
    assert get_settings().issuer == "https://citymarket.example"


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "http://127.0.0.1:8105"), ("0.0.0.0", "http://127.0.0.1:8105"), ("::", "http://[::1]:8105")],
)
def test_a_wildcard_host_is_advertised_on_loopback(host: str, expected: str) -> None:
    assert Settings(env=Environment.dev).served_base_url(host, 8105) == expected
    assert Settings(env=Environment.production, secret_key="s").served_base_url(host, 8105) is None
