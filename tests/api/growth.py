"""Copies of seeded rows (with their children), so that a list starts with 50 rich parents.

Copies are named "000 ..." and get the highest ids, so that they come first both by name and newest first:
then the first 1, 10 and 50 parents all have children of every kind, and a statement count that differs
between them would be an N+1, not an empty child list.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution, ContentStatus
from app.challenges.models import Challenge, ChallengeKpi, Proposal
from app.core.db import unit_of_work
from app.guidelines.models import GuidelineCategory, GuidelineKpi, ProcurementGuideline
from app.hubs.models import Hub, HubCatalogueEntry, HubCountry
from app.solutions.models import (
    ListingStatus,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionDeployment,
    SolutionKpiImpact,
    SolutionLanguage,
    SolutionSdg,
)
from app.twinnings.models import Twinning, TwinningKpi
from app.vendors.models import Vendor

# parent model, its children (model, foreign key to the parent), the columns to make unique, a filter.
KINDS: dict[str, tuple[type[SQLModel], list[tuple[type[SQLModel], str]], tuple[str, ...], Any]] = {
    "solutions": (
        Solution,
        [
            (SolutionCategory, "solution_id"),
            (SolutionSdg, "solution_id"),
            (SolutionCountry, "solution_id"),
            (SolutionLanguage, "solution_id"),
            (SolutionKpiImpact, "solution_id"),
            (SolutionDeployment, "solution_id"),
        ],
        ("slug", "title"),
        Solution.status == ListingStatus.published,
    ),
    "case_studies": (
        CaseStudy,
        [(CaseStudyOutcome, "case_study_id"), (CaseStudySolution, "case_study_id")],
        ("slug", "title"),
        CaseStudy.status == ContentStatus.published,
    ),
    "guidelines": (
        ProcurementGuideline,
        [(GuidelineCategory, "guideline_id"), (GuidelineKpi, "guideline_id")],
        ("slug", "title"),
        ProcurementGuideline.status == ContentStatus.published,
    ),
    "hubs": (Hub, [(HubCountry, "hub_id"), (HubCatalogueEntry, "hub_id")], ("slug", "name"), sa.true()),
    "twinnings": (Twinning, [(TwinningKpi, "twinning_id")], (), sa.true()),
    "vendors": (Vendor, [], ("slug", "name"), sa.true()),
    "challenges": (Challenge, [(ChallengeKpi, "challenge_id"), (Proposal, "challenge_id")], ("title",), sa.true()),
}


def grow(engine: Engine, kind: str, at_least: int = 50) -> None:
    parent, children, unique, keep = KINDS[kind]
    table = parent.__table__  # type: ignore[attr-defined]
    with unit_of_work(engine) as session:
        rows = [dict(r) for r in session.execute(sa.select(table).where(keep).order_by(table.c.id)).mappings()]
        rich = [r for r in rows if all(_children(session, model, fk, r["id"]) for model, fk in children)]
        assert rich, f"no {kind} with every kind of child to copy"
        for n in range(at_least):
            source = rich[n % len(rich)]
            values = {k: v for k, v in source.items() if k != "id"}
            for column in unique:
                values[column] = f"000 {n:03d} {source[column]}"[: table.c[column].type.length]
            new_id = session.execute(sa.insert(table).values(**values)).inserted_primary_key[0]  # type: ignore[index]
            for model, fk in children:
                child_table = model.__table__  # type: ignore[attr-defined]
                for child in _children(session, model, fk, source["id"]):
                    copied = {k: v for k, v in child.items() if k != "id"}
                    session.execute(sa.insert(child_table).values(**{**copied, fk: new_id}))


def _children(session: Session, model: type[SQLModel], fk: str, parent_id: int) -> list[dict[str, Any]]:
    table = model.__table__  # type: ignore[attr-defined]
    return [dict(r) for r in session.execute(sa.select(table).where(table.c[fk] == parent_id)).mappings()]
