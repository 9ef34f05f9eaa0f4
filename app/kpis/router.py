"""REST face of the KPI framework."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page
from app.kpis import service
from app.kpis.models import KpiTier
from app.kpis.schemas import KpiOut

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"])


@router.get("", response_model=Page[KpiOut], summary="List the KPIs, sorted by code")
def list_kpis(
    session: SessionDep,
    page: PageDep,
    dimension: Annotated[str | None, Query(description="Economy, Environment, Society and Culture")] = None,
    subdimension: Annotated[str | None, Query(description='e.g. "ICT", "Energy"')] = None,
    category: Annotated[str | None, Query(description='e.g. "Air Quality"')] = None,
    tier: Annotated[KpiTier | None, Query(description="core or advanced")] = None,
    sdg: Annotated[int | None, Query(ge=1, le=17, description="UN SDG goal number")] = None,
    framework: Annotated[str | None, Query(description='KPI framework code, e.g. "U4SSC"')] = None,
) -> Page[KpiOut]:
    filters = service.KpiFilters(dimension, subdimension, category, tier, sdg, framework)
    result = service.list_kpis(session, filters, page)
    return Page(
        items=[KpiOut.from_model(k, k.framework.code) for k in result.items],
        total=result.total,
        next_cursor=result.next_cursor,
    )


@router.get("/{slug}", response_model=KpiOut, summary="One KPI with its data points and benchmarks")
def get_kpi(session: SessionDep, slug: str) -> KpiOut:
    kpi = service.get_kpi(session, slug)
    return KpiOut.from_model(kpi, kpi.framework.code)
