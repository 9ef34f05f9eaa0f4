"""REST face of country hubs and their public catalogues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth.deps import PrincipalDep
from app.core.concurrency import etag, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page
from app.hubs import service
from app.hubs.schemas import CatalogueEntryBaseOut, CatalogueEntryOut, HubOut
from app.solutions.schemas import SolutionOut
from app.solutions.service import solutions_by_id

router = APIRouter(prefix="/api/v1/hubs", tags=["hubs"])


@router.get("", response_model=Page[HubOut], summary="List the country hubs")
def list_hubs(
    session: SessionDep,
    page: PageDep,
    country: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2}$", description="Serving this country (ISO 3166-1 alpha-2)")
    ] = None,
) -> Page[HubOut]:
    result = service.list_hubs(session, service.HubFilters(country=country), page)
    return Page(items=[HubOut.from_model(h) for h in result.items], total=result.total, next_cursor=result.next_cursor)


@router.get(
    "/{hub_id}",
    response_model=HubOut,
    summary="One hub with its countries",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_hub(
    session: SessionDep, request: Request, response: Response, hub_id: Annotated[int, Path(ge=1)]
) -> HubOut | Response:
    hub = service.get_hub(session, hub_id)
    tag = etag("hub", hub_id, hub.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return HubOut.from_model(hub)


@router.get(
    "/{hub_id}/catalogue",
    response_model=Page[CatalogueEntryOut],
    summary="The hub's public catalogue: approved and featured published solutions, featured first, then by title",
)
def get_catalogue(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    hub_id: Annotated[int, Path(ge=1)],
    status: Annotated[service.PublicCatalogueStatus | None, Query(description="approved or featured")] = None,
    category: Annotated[str | None, Query(max_length=64, description='e.g. "Water and Sanitation"')] = None,
    kpi: Annotated[
        str | None, Query(max_length=64, description="Claims an impact on this KPI (slug or official code)")
    ] = None,
) -> Page[CatalogueEntryOut]:
    filters = service.CatalogueFilters(status=status, category=category, kpi=kpi)
    result = service.get_catalogue(session, hub_id, filters, page)
    listings = solutions_by_id(session, principal, {e.solution_id for e in result.items})
    items = [
        CatalogueEntryOut(
            **CatalogueEntryBaseOut.from_model(e).model_dump(), solution=SolutionOut.from_model(listings[e.solution_id])
        )
        for e in result.items
    ]
    return Page(items=items, total=result.total, next_cursor=result.next_cursor)
