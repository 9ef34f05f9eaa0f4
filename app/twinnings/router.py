"""REST face of twinnings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.core.concurrency import etag, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page
from app.twinnings import service
from app.twinnings.models import TwinningStatus
from app.twinnings.schemas import TwinningOut

router = APIRouter(prefix="/api/v1/twinnings", tags=["twinnings"])


@router.get("", response_model=Page[TwinningOut], summary="List twinnings, newest proposals first")
def list_twinnings(
    session: SessionDep,
    page: PageDep,
    city: Annotated[int | None, Query(ge=1, description="City id, on either side")] = None,
    status: Annotated[TwinningStatus | None, Query()] = None,
    kpi: Annotated[str | None, Query(max_length=64, description="Focus KPI (slug or official code)")] = None,
) -> Page[TwinningOut]:
    result = service.list_twinnings(session, service.TwinningFilters(city=city, status=status, kpi=kpi), page)
    return Page(items=service.to_out(session, result.items), total=result.total, next_cursor=result.next_cursor)


@router.get(
    "/{twinning_id}",
    response_model=TwinningOut,
    summary="One twinning",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_twinning(
    session: SessionDep, request: Request, response: Response, twinning_id: Annotated[int, Path(ge=1)]
) -> TwinningOut | Response:
    twinning = service.get_twinning(session, twinning_id)
    tag = etag("twinning", twinning_id, twinning.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return service.to_out(session, [twinning])[0]
