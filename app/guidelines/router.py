"""REST face of procurement guidelines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth.deps import PrincipalDep
from app.core.concurrency import etag, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page
from app.guidelines import service
from app.guidelines.models import ProcurementStage
from app.guidelines.schemas import GuidelineOut

router = APIRouter(prefix="/api/v1/procurement-guidelines", tags=["procurement guidelines"])


@router.get("", response_model=Page[GuidelineOut], summary="List the published procurement guidelines")
def list_guidelines(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    stage: Annotated[ProcurementStage | None, Query(description="Procurement stage")] = None,
    category: Annotated[str | None, Query(max_length=64, description='e.g. "Water and Sanitation"')] = None,
    kpi: Annotated[str | None, Query(max_length=64, description="Bears on this KPI (slug or official code)")] = None,
    language: Annotated[str | None, Query(pattern="^[A-Za-z]{2}$", description="ISO 639-1 code")] = None,
) -> Page[GuidelineOut]:
    filters = service.GuidelineFilters(stage=stage, category=category, kpi=kpi, language=language)
    result = service.list_guidelines(session, principal, filters, page)
    return Page(items=service.to_out(session, result.items), total=result.total, next_cursor=result.next_cursor)


@router.get(
    "/{guideline_id}",
    response_model=GuidelineOut,
    summary="One procurement guideline",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_guideline(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    guideline_id: Annotated[int, Path(ge=1)],
) -> GuidelineOut | Response:
    guideline = service.get_guideline(session, principal, guideline_id)
    tag = etag("procurement_guideline", guideline_id, guideline.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return service.to_out(session, [guideline])[0]
