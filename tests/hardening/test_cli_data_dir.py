"""CLI commands run from another directory: one line saying which data dir they looked at, and no empty
database (nor data dir) left behind (issue 12)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import get_settings
from tests.conftest import TestDatabase

COMMANDS = [
    ("clients", "create", "--name", "Karmoy data pipeline"),
    ("clients", "list"),
    ("users", "list"),
    ("search", "status"),
    ("reindex",),
    ("keys", "list"),
]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Run a command as a new user would: in a directory of their own, with no CITYMARKET_* set but the env."""
    for name in ("CITYMARKET_DATA_DIR", "CITYMARKET_DATABASE_URL", "CITYMARKET_JWT_PRIVATE_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CITYMARKET_ENV", "test")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, list(args))
    get_settings.cache_clear()


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_without_a_database_the_command_says_where_it_looked(
    run: Callable[..., Any], tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = run(*command)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(tmp_path / "var" / "citymarket.sqlite3") in lines[0]
    assert "CITYMARKET_DATA_DIR" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no data dir, no empty database, no key file


def test_an_empty_database_file_is_not_mistaken_for_the_service(run: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "citymarket.sqlite3").touch()  # what the command used to leave behind
    result = run("clients", "list")
    assert result.exit_code == 1
    assert "has no schema: run `citymarket migrate`" in result.stderr


def test_pointed_at_the_service_data_dir_the_command_works(
    run: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, db: TestDatabase
) -> None:
    monkeypatch.setenv("CITYMARKET_DATA_DIR", str(db.data_dir))
    if not db.url.startswith("sqlite"):  # a server database is named by its URL, as the service's is
        monkeypatch.setenv("CITYMARKET_DATABASE_URL", db.url)
    get_settings.cache_clear()
    result = run("clients", "create", "--name", "Platform pipeline", "--admin", "--json")
    assert result.exit_code == 0, result.output
    assert "client_secret" in result.stdout
