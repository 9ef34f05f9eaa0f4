"""Reading procurement guidelines: only published ones are public."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.case_studies.models import ContentStatus
from app.case_studies.service import can_read_unpublished
from app.core.errors import NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.guidelines.models import GuidelineCategory, GuidelineKpi, ProcurementGuideline, ProcurementStage
from app.guidelines.schemas import GuidelineBaseOut, GuidelineOut
from app.solutions import service as solutions


@dataclass(frozen=True)
class GuidelineFilters:
    stage: ProcurementStage | None = None
    category: str | None = None
    kpi: str | None = None
    language: str | None = None


def _options() -> list[object]:
    return [
        selectinload(ProcurementGuideline.categories),  # type: ignore[arg-type]
        selectinload(ProcurementGuideline.kpis),  # type: ignore[arg-type]
    ]


def list_guidelines(
    session: Session, principal: Principal, filters: GuidelineFilters, page: PageRequest
) -> PageResult[ProcurementGuideline]:
    statement = select(ProcurementGuideline).options(*_options())  # type: ignore[arg-type]
    if not can_read_unpublished(principal):
        statement = statement.where(col(ProcurementGuideline.status) == ContentStatus.published)
    if filters.stage:
        statement = statement.where(col(ProcurementGuideline.stage) == filters.stage)
    if filters.category:
        in_category = select(GuidelineCategory.guideline_id).where(
            sa.func.lower(GuidelineCategory.category) == filters.category.lower()
        )
        statement = statement.where(col(ProcurementGuideline.id).in_(in_category))
    if filters.kpi:
        on_kpi = select(GuidelineKpi.guideline_id).where(col(GuidelineKpi.kpi_id) == solutions.kpi_id_for(filters.kpi))
        statement = statement.where(col(ProcurementGuideline.id).in_(on_kpi))
    if filters.language:
        statement = statement.where(sa.func.lower(ProcurementGuideline.language) == filters.language.lower())
    keys = [SortKey(ProcurementGuideline.title), SortKey(ProcurementGuideline.id)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_guideline(session: Session, principal: Principal, guideline_id: int) -> ProcurementGuideline:
    statement = select(ProcurementGuideline).where(ProcurementGuideline.id == guideline_id).options(*_options())  # type: ignore[arg-type]
    guideline = session.exec(statement).first()
    if guideline is None or (guideline.status != ContentStatus.published and not can_read_unpublished(principal)):
        raise NotFound(
            f"No procurement guideline with id {guideline_id}. GET /api/v1/procurement-guidelines lists them."
        )
    return guideline


def to_out(session: Session, guidelines: Sequence[ProcurementGuideline]) -> list[GuidelineOut]:
    """Guidelines with their KPIs (one statement for the KPIs of all of them)."""
    refs = solutions.kpi_refs(session, {k.kpi_id for g in guidelines for k in g.kpis})
    return [
        GuidelineOut(
            **GuidelineBaseOut.from_model(g).model_dump(),
            kpis=sorted((refs[k.kpi_id] for k in g.kpis), key=lambda r: r.code),
        )
        for g in guidelines
    ]
