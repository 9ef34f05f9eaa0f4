"""The matching store's sections (app/matches/sections.py): every column a loader reads is declared beside
it with how the data version covers it, so a new column that matching reads cannot be left out of the
fingerprint; and a raw SQL UPDATE of a newly covered column changes the data version."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.config import MatchingSettings
from app.matches.sections import (
    SECTIONS,
    Covers,
    Section,
    columns_read,
    fingerprint_statement,
    merged_covers,
    misdeclared,
    running_section,
    table,
    undeclared,
)
from app.matches.store import build_snapshot, data_version
from tests.conftest import guarded_engine
from tests.databases import TestDatabase


@pytest.fixture(scope="module")
def executed(read_db: TestDatabase) -> dict[Section | None, list[sa.ClauseElement]]:
    """Every statement one build of the snapshot (u4ssc-match/3, so the learned effects too) executes, by the
    section that ran it."""
    engine = guarded_engine(read_db, "store sections")
    seen: dict[Section | None, list[sa.ClauseElement]] = defaultdict(list)

    def record(_conn: Any, clause: sa.ClauseElement, *_args: Any) -> None:
        seen[running_section()].append(clause)

    matching = MatchingSettings(method_version="u4ssc-match/3")
    with Session(engine) as session:
        version = data_version(session)
        sa.event.listen(engine, "before_execute", record)
        try:
            build_snapshot(session, matching.weights(), matching, version)
        finally:
            sa.event.remove(engine, "before_execute", record)
    engine.dispose()
    return seen


def test_every_column_a_loader_reads_is_in_its_sections_fingerprint(
    executed: dict[Section | None, list[sa.ClauseElement]],
) -> None:
    assert None not in executed, "a statement of build_snapshot runs outside any section"
    assert set(executed) == set(SECTIONS), "every declared section runs, and only those"
    for declared, statements in executed.items():
        assert declared is not None
        assert undeclared(declared.covers, statements) == set(), declared.name
        assert misdeclared(declared.covers) == [], declared.name
    # The data version reads every table and every value column that some section declares.
    fingerprint = columns_read(fingerprint_statement())
    for name, columns in merged_covers(SECTIONS).items():
        assert (name, "id") in fingerprint or any(t == name for t, _ in fingerprint), name
        for column, cover in columns.items():
            if cover in ("sum", "coded", "length"):
                assert (name, column) in fingerprint, f"{name}.{column}"


def test_the_check_fails_on_a_column_left_out() -> None:
    city, obs = table("city"), table("kpi_observation")
    ranked = sa.select(obs.c.city_id, obs.c.value).where(obs.c.verified == sa.true()).subquery()
    statement = sa.select(city.c.id, ranked.c.value).join(ranked, ranked.c.city_id == city.c.id)
    covers: Covers = {"city": {"id": "key"}, "kpi_observation": {"city_id": "row", "value": "sum"}}
    # kpi_observation.verified is read only in the subquery's WHERE, and still counts.
    assert undeclared(covers, [statement]) == {("kpi_observation", "verified")}
    assert misdeclared({"solution_country": {"country_code": "row"}, "city": {"name": "key", "slug": "coded"}}) == [
        "solution_country.country_code: 'row' but the table has no updated_at or version",
        "city.name: 'key' but not in the primary key",
        "city.slug: 'coded' but neither an enum nor a boolean",
    ]
    with pytest.raises(ValueError, match="declared both"):
        merged_covers([Section("a", {"city": {"name": "row"}}), Section("b", {"city": {"name": "length"}})])


def test_a_raw_update_of_a_claims_evidence_level_changes_the_data_version(engine: Engine) -> None:
    with Session(engine) as session:
        before = data_version(session)
        session.execute(
            sa.text(
                "UPDATE solution_kpi_impact SET evidence_level = "
                "CASE evidence_level WHEN 'claimed' THEN 'piloted' ELSE 'claimed' END "
                "WHERE id = (SELECT min(id) FROM solution_kpi_impact)"
            )
        )
        assert data_version(session) != before
        session.rollback()
