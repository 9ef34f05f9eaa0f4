"""The reference and demo seeds: complete, faithful to the reference files, and idempotent."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, func, select

import app.models as m
from app.core.db import unit_of_work
from app.matching.scoring import share_of_gap_closed
from seeds.loader import DATA_DIR, load_all, slugify


def _dump(engine: sa.Engine) -> dict[str, str]:
    """A digest of every table's rows, timestamps included (a reload must not even touch them)."""
    digests = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            rows = connection.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            digests[table.name] = hashlib.sha256(json.dumps([list(r) for r in rows], default=str).encode()).hexdigest()
    return digests


def test_loading_twice_changes_nothing(engine: sa.Engine) -> None:
    before = _dump(engine)
    with unit_of_work(engine) as session:
        report = load_all(session, demo=True)
    assert not report.changed, (report.created, report.updated)
    assert _dump(engine) == before


def test_every_reference_kpi_and_benchmark_is_loaded(engine: sa.Engine) -> None:
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(m.Kpi)).one() == 91
        with (DATA_DIR / "kpi_benchmarks.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert session.exec(select(func.count()).select_from(m.KpiDataPoint)).one() == len(rows)
        scored = sum(1 for r in rows if r["benchmark"].strip())
        assert (
            session.exec(
                select(func.count()).select_from(m.KpiBenchmark).where(m.KpiBenchmark.value.is_not(None))  # type: ignore[union-attr]
            ).one()
            == scored
        )
        kpi = session.exec(select(m.Kpi).where(m.Kpi.slug == "EC-ICT-ICT-1C")).one()
        assert kpi.code == "EC: ICT: ICT: 1C"
        assert kpi.provenance["unit_source"] == "read: flipbook p.23"


def test_published_city_values_are_loaded_with_their_sources(engine: sa.Engine) -> None:
    with (DATA_DIR / "u4ssc_city_values.csv").open() as handle:
        reported = [r for r in csv.DictReader(handle) if r["value"].strip()]
    reporting_cities = {slugify(r["city"]) for r in reported}  # "Karmoy" in the file is Karmøy
    with Session(engine) as session:
        rows = session.exec(
            select(m.KpiObservation, m.City.slug).join(m.City).where(col(m.City.slug).in_(reporting_cities))
        ).all()
        # One row per reported value (a value reported for "3G and 4G" counts for both data points).
        assert len(rows) >= len(reported)
        assert {name for _, name in rows} == reporting_cities
        # The cities that published their values carry nothing else, and every value names its report.
        assert all(obs.source.startswith("U4SSC ") and "itu.int" in obs.source for obs, _ in rows)
        assert all(
            not city.is_demo
            for city in session.exec(select(m.City).where(col(m.City.slug).in_(reporting_cities))).all()
        )


def test_demo_catalogue_is_as_large_and_varied_as_promised(engine: sa.Engine) -> None:
    with Session(engine) as session:

        def count(model: type[SQLModel], *where: sa.ColumnElement[bool]) -> int:
            return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

        assert count(m.Vendor) >= 12
        assert count(m.Solution) >= 40
        assert count(m.CaseStudy) >= 20
        assert count(m.ProcurementGuideline) >= 10
        assert count(m.Hub) == 3
        assert count(m.Twinning) >= 2
        assert count(m.Challenge) >= 2
        stages = set(session.exec(select(m.ProcurementGuideline.stage)).all())
        assert stages == set(m.ProcurementStage)
        categories = set(session.exec(select(m.SolutionCategory.category)).all())
        assert len(categories) >= 15
        dimensions = set(
            session.exec(
                select(m.Kpi.dimension).join(m.SolutionKpiImpact, m.SolutionKpiImpact.kpi_id == m.Kpi.id)
            ).all()
        )
        assert dimensions == {"Economy", "Environment", "Society and Culture"}
        levels = set(session.exec(select(m.SolutionKpiImpact.evidence_level)).all())
        assert levels == set(m.EvidenceLevel)
        # Every solution is demo content unless it names its source.
        for solution in session.exec(select(m.Solution)).all():
            assert solution.is_demo or solution.source
        # The eight City Science Application Framework cases are real, not demo.
        real_cases = count(m.CaseStudy, m.CaseStudy.is_demo == False)  # noqa: E712
        assert real_cases >= 8
        # Every verified claim is backed by a case study outcome on that KPI.
        verified = session.exec(
            select(m.SolutionKpiImpact).where(m.SolutionKpiImpact.evidence_level == m.EvidenceLevel.verified)
        ).all()
        assert verified
        for impact in verified:
            assert impact.case_study_id is not None
            outcome = session.exec(
                select(m.CaseStudyOutcome).where(
                    m.CaseStudyOutcome.case_study_id == impact.case_study_id,
                    m.CaseStudyOutcome.kpi_id == impact.kpi_id,
                )
            ).first()
            assert outcome is not None


def test_no_verified_claim_promises_more_than_its_case_study_measured(engine: sa.Engine) -> None:
    """A verified impact claim cites a case study with a before/after outcome on the same KPI (or data
    point); its expected effect, the share of a city's gap it closes, must not exceed the share of the
    distance to the benchmark that the case study closed (to the nearest 0.05, the claims' precision)."""
    checked = []
    with Session(engine) as session:
        claims = session.exec(
            select(m.SolutionKpiImpact, m.Solution.slug)
            .join(m.Solution)
            .where(m.SolutionKpiImpact.evidence_level == "verified")
        ).all()
        assert claims, "the demo catalogue has verified claims"
        for claim, slug in claims:
            assert claim.case_study_id is not None, f"{slug}: a verified claim must cite its case study"
            point_ids = session.exec(select(m.KpiDataPoint.id).where(m.KpiDataPoint.kpi_id == claim.kpi_id)).all()
            point_id = claim.data_point_id if claim.data_point_id is not None else point_ids[0]
            assert claim.data_point_id is not None or len(point_ids) == 1, f"{slug}: name the data point"
            outcome = session.exec(
                select(m.CaseStudyOutcome).where(
                    m.CaseStudyOutcome.case_study_id == claim.case_study_id,
                    m.CaseStudyOutcome.kpi_id == claim.kpi_id,
                    m.CaseStudyOutcome.data_point_id == claim.data_point_id,
                )
            ).one_or_none()
            assert outcome is not None, f"{slug}: its case study records no outcome for the claimed KPI"
            point = session.get_one(m.KpiDataPoint, point_id)
            benchmark = session.exec(select(m.KpiBenchmark.value).where(m.KpiBenchmark.data_point_id == point_id)).one()
            assert benchmark is not None
            share = share_of_gap_closed(
                outcome.value_before, outcome.value_after, benchmark, point.direction == "lower_is_better"
            )
            assert share is not None, f"{slug}: the case study's city already met the benchmark before"
            measured = round(share / 0.05) * 0.05
            assert claim.expected_effect <= measured + 1e-9, (slug, claim.expected_effect, round(share, 3))
            checked.append(slug)
    assert len(checked) >= 15


def test_share_of_gap_closed() -> None:
    assert share_of_gap_closed(19, 38, 100, lower_is_better=False) == pytest.approx(19 / 81)
    assert share_of_gap_closed(31, 26, 10, lower_is_better=True) == pytest.approx(5 / 21)
    assert share_of_gap_closed(26, 31, 10, lower_is_better=True) == 0.0  # worse: closes nothing
    assert share_of_gap_closed(8, 5, 10, lower_is_better=True) is None  # already met
    assert share_of_gap_closed(50, 120, 100, lower_is_better=False) == 1.0
