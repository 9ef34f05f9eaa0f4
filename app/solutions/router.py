"""REST face of solutions (vendors' listings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth.deps import PrincipalDep
from app.core.concurrency import etag, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page
from app.solutions import service
from app.solutions.models import EvidenceLevel, ListingStatus, Maturity, PriceModel
from app.solutions.schemas import SolutionDetailOut, SolutionOut

router = APIRouter(prefix="/api/v1/solutions", tags=["solutions"])


@router.get("", response_model=Page[SolutionOut], summary="List the solutions you may see (the published ones)")
def list_solutions(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    vendor: Annotated[int | None, Query(ge=1, description="Vendor id")] = None,
    country: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2}$", description="Offered in this country (ISO 3166-1 alpha-2)")
    ] = None,
    category: Annotated[str | None, Query(max_length=64, description='e.g. "Water and Sanitation"')] = None,
    dimension: Annotated[
        str | None, Query(max_length=64, description="Claims an impact on a KPI of this dimension")
    ] = None,
    kpi: Annotated[
        str | None, Query(max_length=64, description="Claims an impact on this KPI (slug or official code)")
    ] = None,
    sdg: Annotated[int | None, Query(ge=1, le=17, description="UN SDG goal number")] = None,
    maturity: Annotated[Maturity | None, Query()] = None,
    price_model: Annotated[PriceModel | None, Query()] = None,
    language: Annotated[str | None, Query(pattern="^[A-Za-z]{2}$", description="ISO 639-1 code")] = None,
    evidence: Annotated[
        EvidenceLevel | None,
        Query(description="Has an impact claim at least this strong (claimed < piloted < verified)"),
    ] = None,
    status: Annotated[
        ListingStatus | None, Query(description="Listing status (only published ones are public)")
    ] = None,
    hub: Annotated[int | None, Query(ge=1, description="Approved or featured in this hub's catalogue")] = None,
    sort: Annotated[
        service.SolutionSort, Query(description="alphabetical (by title), or newest first")
    ] = service.SolutionSort.alphabetical,
) -> Page[SolutionOut]:
    filters = service.SolutionFilters(
        vendor=vendor,
        country=country,
        category=category,
        dimension=dimension,
        kpi=kpi,
        sdg=sdg,
        maturity=maturity,
        price_model=price_model,
        language=language,
        evidence=evidence,
        status=status,
        hub=hub,
    )
    result = service.list_solutions(session, principal, filters, page, sort)
    return Page(
        items=[SolutionOut.from_model(s) for s in result.items], total=result.total, next_cursor=result.next_cursor
    )


@router.get(
    "/{solution_id}",
    response_model=SolutionDetailOut,
    summary="One solution with its KPI impact claims and deployments",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_solution(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    solution_id: Annotated[int, Path(ge=1)],
) -> SolutionDetailOut | Response:
    out = service.get_solution_detail(session, principal, solution_id)
    tag = etag("solution", out.id, out.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return out
