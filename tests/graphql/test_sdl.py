"""The committed SDL (app/graphql/schema.graphql) is the schema the code builds: clients and reviewers read the
file, so a change to a GraphQL type must come with the regenerated file."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema as build_from_sdl

from app.core.config import Environment, Settings
from app.graphql import export_schema
from app.graphql.schema import build_schema

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)


def test_the_committed_sdl_is_the_schema_of_the_code() -> None:
    committed = export_schema.SDL_PATH.read_text(encoding="utf-8")
    current = export_schema.current_sdl()
    assert committed == current, (
        f"{export_schema.SDL_PATH} differs from the schema the code builds. If the change is intended, run "
        f"`{export_schema.REGENERATE}` and commit the file; otherwise revert the GraphQL type change."
    )


def test_the_sdl_is_valid_and_complete() -> None:
    """The file parses as a schema, with the root query fields of every domain."""
    schema = build_from_sdl(export_schema.SDL_PATH.read_text(encoding="utf-8"))
    query = schema.query_type
    assert query is not None
    expected = {"kpis", "kpi", "cities", "city", "me", "vendors", "vendor", "solutions", "solution"}
    expected |= {"caseStudies", "caseStudy", "procurementGuidelines", "procurementGuideline", "hubs", "hub"}
    expected |= {"twinnings", "twinning", "challenges", "challenge", "proposal", "comments"}
    assert expected <= set(query.fields)


def test_settings_do_not_change_the_sdl() -> None:
    """Limits and production change what is allowed, never the types (so one file serves every deployment)."""
    production = Settings(env=Environment.production, graphql_max_depth=3, graphql_max_cost=5)
    assert str(build_schema(production)) == str(build_schema(Settings()))


def test_export_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schema.graphql"
    assert export_schema.main(["--check", "--output", str(target)]) == 1
    assert export_schema.REGENERATE in capsys.readouterr().err
    assert export_schema.main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == export_schema.current_sdl()
    assert export_schema.main(["--check", "--output", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8").replace("type Kpi ", "type Kpis "), encoding="utf-8")
    assert export_schema.main(["--check", "--output", str(target)]) == 1
