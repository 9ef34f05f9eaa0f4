"""REST face of case studies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth.deps import PrincipalDep
from app.case_studies import service
from app.case_studies.schemas import CaseStudyDetailOut, CaseStudyOut
from app.core.concurrency import etag, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page

router = APIRouter(prefix="/api/v1/case-studies", tags=["case studies"])


@router.get("", response_model=Page[CaseStudyOut], summary="List the published case studies")
def list_case_studies(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    city: Annotated[int | None, Query(ge=1, description="City id")] = None,
    country: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2}$", description="The city's country (ISO 3166-1 alpha-2)")
    ] = None,
    solution: Annotated[int | None, Query(ge=1, description="Used this solution (id)")] = None,
    kpi: Annotated[
        str | None, Query(max_length=64, description="Measured an outcome on this KPI (slug or official code)")
    ] = None,
    year_from: Annotated[int | None, Query(ge=1900, le=2200, description="Year at least")] = None,
    year_to: Annotated[int | None, Query(ge=1900, le=2200, description="Year at most")] = None,
    language: Annotated[str | None, Query(pattern="^[A-Za-z]{2}$", description="ISO 639-1 code")] = None,
    demo: Annotated[bool | None, Query(description="Only invented demo case studies (true) or real ones")] = None,
    sort: Annotated[
        service.CaseStudySort, Query(description="alphabetical (by title), or newest first")
    ] = service.CaseStudySort.alphabetical,
) -> Page[CaseStudyOut]:
    filters = service.CaseStudyFilters(
        city=city,
        country=country,
        solution=solution,
        kpi=kpi,
        year_from=year_from,
        year_to=year_to,
        language=language,
        demo=demo,
    )
    result = service.list_case_studies(session, principal, filters, page, sort)
    return Page(
        items=[CaseStudyOut.from_model(c) for c in result.items], total=result.total, next_cursor=result.next_cursor
    )


@router.get(
    "/{case_study_id}",
    response_model=CaseStudyDetailOut,
    summary="One case study with its KPI outcomes and the solutions it used",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_case_study(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    case_study_id: Annotated[int, Path(ge=1)],
) -> CaseStudyDetailOut | Response:
    out = service.get_case_study_detail(session, principal, case_study_id)
    tag = etag("case_study", out.id, out.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return out
