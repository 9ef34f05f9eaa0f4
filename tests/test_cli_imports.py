"""`citymarket` starts quickly: importing the CLI loads no web framework, GraphQL or search engine, and the
operations commands (`clients create`, ...) load the database layer but not the app (issue 14). Counted in
a fresh interpreter's sys.modules: no timings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from app.cli import LAZY_COMMANDS, cli, load_command

HEAVY = ("fastapi", "strawberry", "tantivy", "numpy", "app.main", "app.graphql")


def _loaded(module: str) -> list[str]:
    code = (
        f"import json, sys, {module}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r})))"
    )
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True).stdout)


@pytest.mark.parametrize("module", ["app.cli", "app.identity.cli", "app.search_index.cli"])
def test_the_cli_loads_neither_the_app_nor_its_engines(module: str) -> None:
    loaded = _loaded(module)
    if module == "app.search_index.cli":
        loaded = [m for m in loaded if m != "tantivy"]  # the search commands work on the engine itself
    assert loaded == [], f"{module} imports {loaded}"


def test_help_lists_the_lazy_commands_with_their_own_help() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name, (_module, _attribute, help_text) in LAZY_COMMANDS.items():
        command = load_command(name)
        assert (command.help or "").split("\n")[0].strip() == help_text, name  # the listing says what it does
        assert name in result.output
    assert "clients create" not in result.output
    clients = CliRunner().invoke(cli, ["clients", "--help"], terminal_width=200)
    assert clients.exit_code == 0, clients.output
    assert "create" in clients.output
