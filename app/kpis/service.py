"""Reading the KPI framework."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.core.errors import NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.kpis.models import Kpi, KpiDataPoint, KpiFramework, KpiSdg, KpiTier


def slugify_code(code: str) -> str:
    """`EC: ICT: ICT: 1C` -> `EC-ICT-ICT-1C`: the official code made URL-safe."""
    return "-".join(part for part in re.split(r"[^A-Za-z0-9]+", code) if part).upper()


@dataclass(frozen=True)
class KpiFilters:
    dimension: str | None = None
    subdimension: str | None = None
    category: str | None = None
    tier: KpiTier | None = None
    sdg: int | None = None
    framework: str | None = None


def _with_details() -> list[object]:
    return [
        selectinload(Kpi.sdgs),  # type: ignore[arg-type]
        selectinload(Kpi.framework),  # type: ignore[arg-type]
        selectinload(Kpi.data_points).selectinload(KpiDataPoint.benchmark),  # type: ignore[arg-type]
    ]


def list_kpis(session: Session, filters: KpiFilters, page: PageRequest) -> PageResult[Kpi]:
    statement = select(Kpi).options(*_with_details())  # type: ignore[arg-type]
    for column, value in (
        (Kpi.dimension, filters.dimension),
        (Kpi.subdimension, filters.subdimension),
        (Kpi.category, filters.category),
    ):
        if value:
            statement = statement.where(sa.func.lower(column) == value.lower())
    if filters.tier:
        statement = statement.where(col(Kpi.tier) == filters.tier)
    if filters.sdg is not None:
        statement = statement.where(col(Kpi.id).in_(select(KpiSdg.kpi_id).where(KpiSdg.sdg == filters.sdg)))
    if filters.framework:
        statement = statement.join(KpiFramework).where(
            sa.func.lower(KpiFramework.code) == filters.framework.lower()
        )
    return paginate(session, statement, [SortKey(Kpi.code), SortKey(Kpi.id)], page)  # type: ignore[arg-type]


def get_kpi(session: Session, slug_or_code: str) -> Kpi:
    """A KPI by its slug (`EN-EN-AQ-1C`) or official code (`EN: EN: AQ: 1C`)."""
    slug = slugify_code(slug_or_code)
    kpi = session.exec(select(Kpi).where(Kpi.slug == slug).options(*_with_details())).first()  # type: ignore[arg-type]
    if kpi is None:
        raise NotFound(
            f"No KPI with slug or code {slug_or_code!r}. KPI slugs look like 'EN-EN-AQ-1C'; "
            "GET /api/v1/kpis lists them all."
        )
    return kpi
