"""The models and the migrations agree, and the history round-trips, on the backend under test."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.models  # noqa: F401  (every table on the metadata)
from app.core.migrations import downgrade, upgrade
from tests.conftest import DatabaseFactory


def _differences(engine: sa.Engine, metadata: sa.MetaData) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
        return list(compare_metadata(context, metadata))


def test_migrations_match_the_models_and_round_trip(databases: DatabaseFactory) -> None:
    database = databases.empty()
    engine = database.engine()
    try:
        upgrade(engine)
        assert _differences(engine, SQLModel.metadata) == []
        downgrade(engine, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert _differences(engine, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_the_check_fails_when_a_model_changes_without_a_migration(databases: DatabaseFactory) -> None:
    database = databases.empty()
    engine = database.engine()
    try:
        upgrade(engine)
        # A copy of the metadata plus one new column, as a model edit without a migration would be.
        changed = sa.MetaData(naming_convention=SQLModel.metadata.naming_convention)
        for table in SQLModel.metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables["vendor"].append_column(sa.Column("forgotten", sa.String(20), nullable=True))
        sa.Table("not_migrated", changed, sa.Column("id", sa.Integer, primary_key=True))

        differences = _differences(engine, changed)
        kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in differences}  # type: ignore[index]
        assert {"add_column", "add_table"} <= kinds
    finally:
        engine.dispose()
