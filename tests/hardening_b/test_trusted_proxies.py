"""X-Forwarded-For is believed only from CITYMARKET_TRUSTED_PROXIES (default none), as `citymarket serve`
configures uvicorn: otherwise anyone on loopback could pick the address the failure limits count."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import app.cli
from app.core.config import Settings
from app.main import create_app
from tests.conftest import TestDatabase

LIMITS = {"auth_failure_limit_per_address": "3 per 1 minute", "seed_on_start": False}


def _served(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> dict[str, Any]:
    """The keyword arguments `citymarket serve` gives uvicorn (which is not started)."""
    captured: dict[str, Any] = {}
    monkeypatch.setattr(app.cli, "get_settings", lambda: settings)
    monkeypatch.setattr(uvicorn, "run", lambda *_args, **kwargs: captured.update(kwargs))
    result = CliRunner().invoke(app.cli.cli, ["serve", "--no-migrate"])
    assert result.exit_code == 0, result.output
    return captured


def _uvicorn_app(settings: Settings, served: dict[str, Any]) -> Any:
    """The ASGI app as uvicorn runs it with those arguments (its proxy-headers middleware around ours)."""
    proxy = {key: served[key] for key in ("proxy_headers", "forwarded_allow_ips") if key in served}
    config = uvicorn.Config(create_app(settings), **proxy)
    config.load()
    return config.loaded_app


def _failures(asgi: Any, peer: str, forwarded: list[str]) -> list[int]:
    with TestClient(asgi, client=(peer, 40000)) as http:
        return [
            http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": f"made-up-{i}", "client_secret": "x"},
                headers={"x-forwarded-for": address},
            ).status_code
            for i, address in enumerate(forwarded)
        ]


def test_forwarded_for_from_loopback_is_not_believed_by_default(
    monkeypatch: pytest.MonkeyPatch, db: TestDatabase
) -> None:
    settings = db.settings(**LIMITS)
    asgi = _uvicorn_app(settings, _served(monkeypatch, settings))
    statuses = _failures(asgi, "127.0.0.1", [f"203.0.113.{i}" for i in range(4)])
    assert statuses == [400, 400, 400, 429]  # one address, whatever the header says


def test_a_trusted_proxys_forwarded_for_is_believed(monkeypatch: pytest.MonkeyPatch, db: TestDatabase) -> None:
    settings = db.settings(**LIMITS, trusted_proxies="10.9.0.0/24, 127.0.0.1")
    assert settings.trusted_proxies == ["10.9.0.0/24", "127.0.0.1"]
    asgi = _uvicorn_app(settings, _served(monkeypatch, settings))
    # Behind the proxy, four clients: each has its own budget.
    assert _failures(asgi, "10.9.0.5", [f"203.0.113.{i}" for i in range(4)]) == [400] * 4
    # One client through the proxy is limited as one.
    assert _failures(asgi, "10.9.0.5", ["198.51.100.1"] * 4) == [400, 400, 400, 429]


def test_a_bad_trusted_proxy_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="not-an-address"):
        Settings(trusted_proxies="10.0.0.1,not-an-address")
