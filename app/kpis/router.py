"""REST face of the KPI framework."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response

from app.auth.deps import require_scopes
from app.auth.principal import Principal, Scope
from app.core.concurrency import etag, if_match, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.localized import WantedDep, localized_page
from app.core.negotiation import language_headers
from app.core.pagination import Page
from app.core.responses import json_response
from app.core.routing import api_router
from app.kpis import service
from app.kpis.schemas import BenchmarkIn, BenchmarkOut, KpiFilters, KpiOut

router = api_router(prefix="/api/v1/kpis", tags=["kpis"])


@router.get("", response_model=Page[KpiOut], summary="List the KPIs, sorted by code")
def list_kpis(
    session: SessionDep,
    page: PageDep,
    filters: Annotated[KpiFilters, Query()],
    wanted: WantedDep = [],  # noqa: B006  (a dependency's value; FastAPI ignores the default)
) -> Response:
    result = service.list_kpis(session, filters, page)
    items = service.kpi_outs(session, result.items, wanted)
    return localized_page(Page(items=items, total=result.total, next_cursor=result.next_cursor))


@router.get("/{slug}", response_model=KpiOut, summary="One KPI with its data points and benchmarks")
def get_kpi(session: SessionDep, slug: str, wanted: WantedDep) -> Response:
    out = service.kpi_outs(session, [service.get_kpi(session, slug)], wanted)[0]
    return json_response(out, headers=language_headers([out.language]))


DataPointKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description='The data point\'s key ("PM2.5"); `_` for the KPI measured as a whole (key "").',
    ),
]


@router.get(
    "/{slug}/data-points/{key}/benchmark",
    response_model=BenchmarkOut,
    summary="One data point's benchmark, with the ETag an update needs",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_benchmark(
    session: SessionDep, request: Request, response: Response, slug: str, key: DataPointKey
) -> BenchmarkOut | Response:
    data_point, benchmark = service.get_benchmark(session, slug, key)
    tag = etag(service.BENCHMARK_KIND, data_point.id or 0, service.benchmark_version(benchmark))
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return BenchmarkOut.from_model(benchmark)


@router.put(
    "/{slug}/data-points/{key}/benchmark",
    response_model=BenchmarkOut,
    summary="Set a data point's benchmark (admins): replaces the platform default; If-Match to replace one",
    responses={201: {"description": "Created (the data point had no benchmark)"}},
)
def put_benchmark(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_scopes(Scope.admin))],
    request: Request,
    response: Response,
    slug: str,
    key: DataPointKey,
    body: BenchmarkIn,
) -> BenchmarkOut:
    kpi, data_point = service.get_data_point(session, slug, key)
    expected = if_match(request, service.BENCHMARK_KIND, data_point.id or 0)
    benchmark, created = service.put_benchmark(session, principal, kpi.slug, key, body, expected)
    session.commit()
    response.status_code = 201 if created else 200
    response.headers["ETag"] = etag(service.BENCHMARK_KIND, data_point.id or 0, service.benchmark_version(benchmark))
    return BenchmarkOut.from_model(benchmark)
