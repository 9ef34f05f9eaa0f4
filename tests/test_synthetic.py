"""The synthetic data generator (seeds/synthetic.py): counts, determinism, idempotency, constraints and
distributions, on a small run over the seeded reference data (SQLite, or PostgreSQL in the CI lane)."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.core.migrations import upgrade
from seeds.synthetic import (
    PREFIX,
    TABLES,
    SyntheticReport,
    dump_rows,
    generate_synthetic,
    is_percentage_unit,
    remove_synthetic,
)

if TYPE_CHECKING:
    from tests.conftest import DatabaseFactory, TestDatabase

SMALL = {"cities": 50, "solutions": 200, "case_studies": 200}

# Used only when the reference data has no countries yet (the generator needs some to spread cities over).
FALLBACK_COUNTRIES = [
    ("DE", "Germany", "Europe", "Western Europe", "high"),
    ("ES", "Spain", "Europe", "Southern Europe", "high"),
    ("IN", "India", "Asia", "Southern Asia", "lower_middle"),
    ("KE", "Kenya", "Africa", "Sub-Saharan Africa", "lower_middle"),
    ("BR", "Brazil", "Americas", "Latin America and the Caribbean", "upper_middle"),
    ("AU", "Australia", "Oceania", "Australia and New Zealand", "high"),
]


def _ensure_reference(engine: Engine) -> None:
    """The seeded template has the KPI framework (seeds.loader); make sure it has countries too."""
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT COUNT(*) FROM country")).scalar_one() == 0:
            conn.execute(
                sa.text(
                    "INSERT INTO country (code, name, region, subregion, income_group) "
                    "VALUES (:code, :name, :region, :subregion, :income)"
                ),
                [
                    dict(zip(("code", "name", "region", "subregion", "income"), row, strict=True))
                    for row in FALLBACK_COUNTRIES
                ],
            )


def _fresh(databases: DatabaseFactory, template: TestDatabase, *, keep: bool = False) -> tuple[TestDatabase, Engine]:
    db = databases.copy(template, keep=keep)
    engine = db.engine()
    _ensure_reference(engine)
    return db, engine


def _dump_hash(engine: Engine) -> str:
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table, row in dump_rows(conn):
            digest.update(repr((table, row)).encode())
    return digest.hexdigest()


def _table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


@dataclass
class Generated:
    engine: Engine
    report: SyntheticReport
    before: dict[str, int]


@pytest.fixture(scope="module")
def generated(databases: DatabaseFactory, seeded_template: TestDatabase) -> Iterator[Generated]:
    _, engine = _fresh(databases, seeded_template, keep=True)  # the module's tests share it
    before = _table_counts(engine)
    report = generate_synthetic(engine, **SMALL, seed=42, progress=False)
    yield Generated(engine, report, before)
    engine.dispose()


def _rows(engine: Engine, sql: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def _scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


SYN_CITY = "c.slug LIKE 'syn-city-%'"
SYN_SOLUTION = "s.slug LIKE 'syn-solution-%'"
SYN_CASE = "cs.slug LIKE 'syn-case-%'"


# ---------------------------------------------------------------------------------------------- counts


def test_counts_as_asked(generated: Generated) -> None:
    report, engine = generated.report, generated.engine
    assert not report.skipped
    assert report.rows["city"] == 50
    assert report.rows["solution"] == 200
    assert report.rows["case_study"] == 200
    assert report.rows["vendor"] == 25  # about solutions / 8
    for table in TABLES:
        assert report.rows[table] > 0, table
    after = _table_counts(engine)
    assert {t: after[t] - generated.before[t] for t in TABLES} == report.rows
    assert _scalar(engine, "SELECT COUNT(*) FROM city WHERE slug LIKE 'syn-city-%'") == 50
    assert _scalar(engine, "SELECT COUNT(*) FROM vendor WHERE slug LIKE 'syn-vendor-%'") == 25
    assert report.total_seconds > 0
    assert {"cities", "observations", "solutions", "case studies"} <= set(report.seconds)


def test_rows_are_marked_and_named_as_synthetic(generated: Generated) -> None:
    engine = generated.engine
    for table, prefix, label in (
        ("city", PREFIX["city"], "name"),
        ("vendor", PREFIX["vendor"], "name"),
        ("solution", PREFIX["solution"], "title"),
        ("case_study", PREFIX["case_study"], "title"),
    ):
        rows = _rows(engine, f"SELECT slug, {label}, is_demo FROM {table} WHERE slug LIKE :p", p=f"{prefix}%")
        assert rows, table
        assert all(row.is_demo for row in rows), table
    names = [r.name for r in _rows(engine, "SELECT name FROM city WHERE slug LIKE 'syn-city-%' ORDER BY id")]
    assert names[0] == "Synthetic City 00001"
    assert names[-1] == "Synthetic City 00050"
    assert all(
        r.name.startswith("Synthetic Vendor ")
        for r in _rows(engine, "SELECT name FROM vendor WHERE slug LIKE 'syn-vendor-%'")
    )
    # The real and demo rows are still there, untouched in number.
    assert _scalar(engine, "SELECT COUNT(*) FROM city WHERE slug NOT LIKE 'syn-city-%'") == generated.before["city"]


# ---------------------------------------------------------------------------------------------- repeatability


def test_second_run_adds_nothing(generated: Generated) -> None:
    engine = generated.engine
    before = _table_counts(engine)
    again = generate_synthetic(engine, **SMALL, seed=42, progress=False)
    assert again.skipped
    assert again.total_rows == 0
    assert "already present" in again.message
    assert _table_counts(engine) == before


def test_same_seed_same_rows_other_seed_other_rows(
    generated: Generated, databases: DatabaseFactory, seeded_template: TestDatabase
) -> None:
    reference = _dump_hash(generated.engine)
    _, same = _fresh(databases, seeded_template)
    _, other = _fresh(databases, seeded_template)
    try:
        generate_synthetic(same, **SMALL, seed=42, progress=False)
        generate_synthetic(other, **SMALL, seed=7, progress=False)
        assert _dump_hash(same) == reference
        assert _dump_hash(other) != reference
    finally:
        same.dispose()
        other.dispose()


def test_remove_then_generate_again_gives_the_same_rows(
    databases: DatabaseFactory, seeded_template: TestDatabase
) -> None:
    _, engine = _fresh(databases, seeded_template)
    try:
        before = _table_counts(engine)
        first = generate_synthetic(engine, cities=8, solutions=16, case_studies=10, seed=3, progress=False)
        digest = _dump_hash(engine)
        deleted = remove_synthetic(engine)
        assert (deleted["city"], deleted["solution"], deleted["case_study"]) == (8, 16, 10)
        assert _table_counts(engine) == before
        second = generate_synthetic(engine, cities=8, solutions=16, case_studies=10, seed=3, progress=False)
        assert second.rows == first.rows
        assert _dump_hash(engine) == digest
    finally:
        engine.dispose()


def test_refuses_without_reference_data(databases: DatabaseFactory) -> None:
    db = databases.empty()
    engine = db.engine()
    try:
        upgrade(engine)
        with pytest.raises(ValueError, match="reference data"):
            generate_synthetic(engine, cities=5, solutions=5, case_studies=5, progress=False)
        assert _scalar(engine, "SELECT COUNT(*) FROM city") == 0
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------- constraints


def test_observation_values_respect_units(generated: Generated) -> None:
    engine = generated.engine
    rows = _rows(
        engine,
        f"""
        SELECT dp.unit AS unit, b.value_label AS label, MIN(o.value) AS lo, MAX(o.value) AS hi, COUNT(*) AS n
        FROM kpi_observation o JOIN city c ON c.id = o.city_id
        JOIN kpi_data_point dp ON dp.id = o.data_point_id
        LEFT JOIN kpi_benchmark b ON b.data_point_id = dp.id
        WHERE {SYN_CITY} GROUP BY dp.id, dp.unit, b.value_label""",
    )
    assert rows
    percentages = [r for r in rows if is_percentage_unit(r.unit)]
    assert len(percentages) > 10
    for row in percentages:
        assert 0 <= row.lo <= row.hi <= 100, row
    for row in rows:
        assert row.lo >= 0, row
        if (row.label or "").lower() == "yes":
            assert {row.lo, row.hi} <= {0.0, 1.0}, row
    duplicates = _rows(
        engine,
        f"""
        SELECT o.city_id, o.data_point_id, o.year FROM kpi_observation o JOIN city c ON c.id = o.city_id
        WHERE {SYN_CITY} GROUP BY o.city_id, o.data_point_id, o.year HAVING COUNT(*) > 1""",
    )
    assert duplicates == []


def test_direction_drives_values(generated: Generated) -> None:
    """Cities that do well overall do well on both higher- and lower-is-better KPIs: the achievement (value
    against the benchmark, read in the KPI's direction) correlates across dimensions."""
    rows = _rows(
        generated.engine,
        f"""
        SELECT o.city_id AS city, k.dimension AS dim, o.value AS v, b.value AS bench, dp.direction AS dir
        FROM kpi_observation o JOIN city c ON c.id = o.city_id
        JOIN kpi_data_point dp ON dp.id = o.data_point_id JOIN kpi k ON k.id = dp.kpi_id
        JOIN kpi_benchmark b ON b.data_point_id = dp.id
        WHERE {SYN_CITY} AND b.value > 0 AND dp.direction IN ('higher_is_better', 'lower_is_better')""",
    )
    scores: dict[tuple[int, str], list[float]] = {}
    for r in rows:
        achievement = r.v / r.bench if r.dir == "higher_is_better" else (r.bench / r.v if r.v > 0 else 1.0)
        scores.setdefault((r.city, r.dim), []).append(min(achievement, 1.0))
    dims = sorted({d for _, d in scores})
    cities = sorted({c for c, _ in scores if all((c, d) in scores for d in dims)})
    matrix = np.array([[np.mean(scores[(c, d)]) for d in dims] for c in cities])
    correlation = np.corrcoef(matrix.T)
    assert len(cities) >= 40
    assert correlation[np.triu_indices(len(dims), 1)].min() > 0.1


def test_solutions_and_impacts(generated: Generated) -> None:
    engine = generated.engine
    without = _scalar(
        engine,
        f"""
        SELECT COUNT(*) FROM solution s WHERE {SYN_SOLUTION}
        AND NOT EXISTS (SELECT 1 FROM solution_kpi_impact i WHERE i.solution_id = s.id)""",
    )
    assert without == 0
    for table in ("solution_category", "solution_country", "solution_language", "solution_sdg"):
        missing = _scalar(
            engine,
            f"""
            SELECT COUNT(*) FROM solution s WHERE {SYN_SOLUTION}
            AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.solution_id = s.id)""",
        )
        assert missing == 0, table
    per_solution = Counter(
        r.n
        for r in _rows(
            engine,
            f"""
        SELECT COUNT(*) AS n FROM solution_category x JOIN solution s ON s.id = x.solution_id
        WHERE {SYN_SOLUTION} GROUP BY s.id""",
        )
    )
    assert set(per_solution) <= {1, 2, 3}
    impacts = _rows(
        engine,
        f"""
        SELECT i.expected_effect AS effect, i.evidence_level AS level, i.case_study_id AS case_id,
               i.solution_id AS solution_id, i.kpi_id AS kpi_id,
               EXISTS (SELECT 1 FROM solution_category sc JOIN kpi k ON k.category = sc.category
                       WHERE sc.solution_id = i.solution_id AND k.id = i.kpi_id) AS on_category
        FROM solution_kpi_impact i JOIN solution s ON s.id = i.solution_id WHERE {SYN_SOLUTION}""",
    )
    effects = np.array([r.effect for r in impacts])
    assert effects.min() >= 0.05
    assert effects.max() <= 0.6
    assert np.median(effects) < 0.3  # skewed low
    levels = Counter(r.level for r in impacts)
    assert levels["claimed"] > levels["piloted"] > levels["verified"] > 0
    assert sum(bool(r.on_category) for r in impacts) > 0.8 * len(impacts)
    counts = Counter(Counter(r.solution_id for r in impacts).values())
    assert set(counts) <= {1, 2, 3, 4, 5}
    for r in impacts:
        if r.level == "verified":
            backed = _scalar(
                engine,
                """
                SELECT COUNT(*) FROM case_study_solution css
                JOIN case_study_outcome o ON o.case_study_id = css.case_study_id
                WHERE css.case_study_id = :case_id AND css.solution_id = :solution_id AND o.kpi_id = :kpi_id""",
                case_id=r.case_id,
                solution_id=r.solution_id,
                kpi_id=r.kpi_id,
            )
            assert backed, r
        else:
            assert r.case_id is None
    statuses = Counter(r.status for r in _rows(engine, f"SELECT status FROM solution s WHERE {SYN_SOLUTION}"))
    assert statuses["published"] > 0.8 * 200


def test_case_studies(generated: Generated) -> None:
    engine = generated.engine
    rows = _rows(engine, f"SELECT body, status, language, year FROM case_study cs WHERE {SYN_CASE}")
    assert len(rows) == 200
    for row in rows:
        assert 80 <= len(row.body.split()) <= 200
        assert row.status == "published"
        assert 2000 <= row.year <= 2025
    assert Counter(r.language for r in rows)["en"] > 0.7 * len(rows)
    links = Counter(
        r.n
        for r in _rows(
            engine,
            f"""
        SELECT COUNT(css.solution_id) AS n FROM case_study cs
        LEFT JOIN case_study_solution css ON css.case_study_id = cs.id WHERE {SYN_CASE} GROUP BY cs.id""",
        )
    )
    assert set(links) <= {0, 1, 2}
    assert links[1] > links[0]
    outcomes = _rows(
        engine,
        f"""
        SELECT o.value_before AS before, o.value_after AS after, dp.direction AS dir, dp.unit AS unit,
               o.year_before AS y0, o.year_after AS y1, cs.id AS case_id
        FROM case_study_outcome o JOIN case_study cs ON cs.id = o.case_study_id
        JOIN kpi_data_point dp ON dp.id = o.data_point_id WHERE {SYN_CASE}""",
    )
    assert outcomes
    assert max(Counter(o.case_id for o in outcomes).values()) <= 3
    for o in outcomes:
        assert o.dir in ("higher_is_better", "lower_is_better")
        assert (o.after > o.before) if o.dir == "higher_is_better" else (o.after < o.before), o
        assert o.y0 < o.y1
        if is_percentage_unit(o.unit):
            assert min(o.before, o.after) >= 0, o
            assert max(o.before, o.after) <= 100, o


# ---------------------------------------------------------------------------------------------- distributions


def test_distributions_are_not_uniform(generated: Generated) -> None:
    engine = generated.engine
    cities = _rows(
        engine,
        f"""
        SELECT c.population AS population, c.data_public AS public, c.languages AS languages,
               c.latitude AS lat, c.longitude AS lon, c.climate AS climate, c.country_code AS country
        FROM city c WHERE {SYN_CITY}""",
    )
    population = np.array([c.population for c in cities], dtype=float)
    assert population.min() >= 5_000
    assert population.max() <= 20_000_000
    assert np.median(population) < population.mean() / 1.5  # a heavy right tail
    assert 0.35 < np.mean([bool(c.public) for c in cities]) < 0.85
    assert all(c.languages for c in cities)
    assert all(-90 <= c.lat <= 90 and -180 <= c.lon <= 180 for c in cities)
    assert len({c.climate for c in cities}) >= 4
    assert len({c.country for c in cities}) >= 4

    data_points = _scalar(engine, "SELECT COUNT(*) FROM kpi_data_point")
    assert isinstance(data_points, int)
    coverage = [
        r.n / data_points
        for r in _rows(
            engine,
            f"""
        SELECT o.city_id, COUNT(DISTINCT o.data_point_id) AS n FROM kpi_observation o
        JOIN city c ON c.id = o.city_id WHERE {SYN_CITY} GROUP BY o.city_id""",
        )
    ]
    assert len(coverage) == 50
    assert min(coverage) >= 0.29
    assert max(coverage) <= 0.91
    assert np.std(coverage) > 0.05

    tiers = {
        r.tier: float(r.rate)
        for r in _rows(
            engine,
            f"""
        SELECT k.tier AS tier, 1.0 * COUNT(DISTINCT o.city_id || '-' || o.data_point_id)
               / (50 * (SELECT COUNT(*) FROM kpi_data_point dp2 JOIN kpi k2 ON k2.id = dp2.kpi_id
                        WHERE k2.tier = k.tier)) AS rate
        FROM kpi_observation o JOIN city c ON c.id = o.city_id
        JOIN kpi_data_point dp ON dp.id = o.data_point_id JOIN kpi k ON k.id = dp.kpi_id
        WHERE {SYN_CITY} GROUP BY k.tier""",
        )
    }
    assert tiers["core"] > 1.5 * tiers["advanced"]

    quality = Counter(
        r.q
        for r in _rows(
            engine,
            f"""
        SELECT o.data_quality AS q FROM kpi_observation o JOIN city c ON c.id = o.city_id WHERE {SYN_CITY}""",
        )
    )
    total = sum(quality.values())
    assert (quality["measured"] + quality["calculated"]) / total > 0.5
    assert quality["measured"] > quality["estimated"] > quality["unknown"]
    years = Counter(
        r.n
        for r in _rows(
            engine,
            f"""
        SELECT COUNT(DISTINCT o.year) AS n FROM kpi_observation o JOIN city c ON c.id = o.city_id
        WHERE {SYN_CITY} GROUP BY o.city_id""",
        )
    )
    assert set(years) <= {1, 2, 3}
    assert years[1] > 0.7 * 50

    sizes = Counter(r.size for r in _rows(engine, "SELECT size FROM vendor WHERE slug LIKE 'syn-vendor-%'"))
    assert sizes["micro"] + sizes["small"] > sizes["medium"] + sizes["large"]


def test_texts_have_common_and_rare_words(generated: Generated) -> None:
    texts = [
        f"{r.title} {r.summary} {r.description}".lower()
        for r in _rows(
            generated.engine,
            f"""
        SELECT title, summary, description FROM solution s WHERE {SYN_SOLUTION}""",
        )
    ]
    frequency: Counter[str] = Counter()
    for text in texts:
        frequency.update(set(re.findall(r"[a-z][a-z-]{2,}", text)))
    counts = np.array(sorted(frequency.values()))
    assert counts.max() > 0.5 * len(texts)  # a common word appears in many documents
    assert (counts <= 2).sum() > 50  # and many words in very few
    lengths = [len(t.split()) for t in texts]
    assert max(lengths) > 2 * min(lengths)
    categories = Counter(
        r.category
        for r in _rows(
            generated.engine,
            f"""
        SELECT x.category AS category FROM solution_category x JOIN solution s ON s.id = x.solution_id
        WHERE {SYN_SOLUTION}""",
        )
    )
    assert len(categories) >= 8


def test_ids_continue_after_the_synthetic_rows(generated: Generated) -> None:
    """Ids were assigned up front: the next row the application adds must not collide (PostgreSQL sequences)."""
    engine = generated.engine
    with engine.connect() as conn, conn.begin() as transaction:
        top = conn.execute(sa.text("SELECT MAX(id) FROM solution_kpi_impact")).scalar_one()
        solution = conn.execute(sa.text("SELECT MIN(id) FROM solution WHERE slug LIKE 'syn-solution-%'")).scalar_one()
        kpi = conn.execute(
            sa.text(
                "SELECT MIN(id) FROM kpi WHERE id NOT IN "
                "(SELECT kpi_id FROM solution_kpi_impact WHERE solution_id = :s)"
            ),
            {"s": solution},
        ).scalar_one()
        new_id = conn.execute(
            sa.insert(
                sa.table(
                    "solution_kpi_impact",
                    sa.column("id"),
                    sa.column("solution_id"),
                    sa.column("kpi_id"),
                    sa.column("expected_effect"),
                    sa.column("evidence_level"),
                    sa.column("note"),
                )
            )
            .values(solution_id=solution, kpi_id=kpi, expected_effect=0.1, evidence_level="claimed", note="")
            .returning(sa.column("id"))
        ).scalar_one()
        assert new_id > top
        transaction.rollback()
