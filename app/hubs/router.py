"""REST face of country hubs: their public catalogues, and their curators' decisions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from app.auth.deps import PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.core.concurrency import etag, expected_version, not_modified, set_etag
from app.core.deps import PageDep, SessionDep
from app.core.ids import Id
from app.core.pagination import Page
from app.core.routing import api_router
from app.hubs import service
from app.hubs.models import CatalogueStatus
from app.hubs.schemas import (
    CatalogueDecisionIn,
    CatalogueDecisionOut,
    CatalogueEntryBaseOut,
    CatalogueEntryOut,
    HubFilters,
    HubOut,
)
from app.solutions.schemas import SolutionOut
from app.solutions.service import solutions_by_id

router = api_router(prefix="/api/v1/hubs", tags=["hubs"])


@router.get("", response_model=Page[HubOut], summary="List the country hubs")
def list_hubs(
    session: SessionDep,
    page: PageDep,
    filters: Annotated[HubFilters, Query()],
) -> Page[HubOut]:
    result = service.list_hubs(session, filters, page)
    return Page(items=[HubOut.from_model(h) for h in result.items], total=result.total, next_cursor=result.next_cursor)


@router.get(
    "/{hub_id}",
    response_model=HubOut,
    summary="One hub with its countries",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_hub(session: SessionDep, request: Request, response: Response, hub_id: Id) -> HubOut | Response:
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
    hub_id: Id,
    status: Annotated[
        CatalogueStatus | None,
        Query(description="approved or featured; hidden for the hub's curators (and admins) only"),
    ] = None,
    category: Annotated[str | None, Query(max_length=64, description='e.g. "Water and Sanitation"')] = None,
    kpi: Annotated[
        str | None, Query(max_length=64, description="Claims an impact on this KPI (slug or official code)")
    ] = None,
) -> Page[CatalogueEntryOut]:
    filters = service.CatalogueFilters(status=status, category=category, kpi=kpi)
    service.check_catalogue_filters(principal, hub_id, filters)
    result = service.get_catalogue(session, hub_id, filters, page)
    listings = solutions_by_id(session, principal, {e.solution_id for e in result.items})
    items = [
        CatalogueEntryOut(
            **CatalogueEntryBaseOut.from_model(e).model_dump(), solution=SolutionOut.from_model(listings[e.solution_id])
        )
        for e in result.items
    ]
    return Page(items=items, total=result.total, next_cursor=result.next_cursor)


# ------------------------------------------------------------------------------------------------- curation

Curator = Annotated[Principal, Depends(require_scopes(Scope.catalogue_write))]
HubId = Id
SolutionId = Id
CURATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) token"},
    403: {"description": "Not a curator of this hub (or the token lacks catalogue:write)"},
    404: {"description": "No such hub, listing or entry"},
    409: {"description": "The listing is not published"},
    412: {"description": "If-Match is stale: the decision changed since you read it"},
    422: {"description": "Invalid input; unknown fields (decided_by_user_id, ...) are refused"},
    428: {"description": "If-Match missing (replacing or removing an existing decision)"},
}


def _entry_etag(response: Response, entry_id: int, version: int) -> None:
    set_etag(response, service.ENTRY_KIND, entry_id, version)


@router.get(
    "/{hub_id}/catalogue/{solution_id}",
    response_model=CatalogueDecisionOut,
    summary="One catalogue decision, with the ETag a change needs (hidden ones: the hub's curators only)",
    responses={304: {"description": "Not modified (If-None-Match)"}, 404: {"description": "No such entry"}},
)
def get_catalogue_entry(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    hub_id: HubId,
    solution_id: SolutionId,
) -> CatalogueDecisionOut | Response:
    entry, listing = service.get_catalogue_entry(session, principal, hub_id, solution_id)
    tag = etag(service.ENTRY_KIND, entry.id or 0, entry.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return CatalogueDecisionOut.from_entry(entry, SolutionOut.from_model(listing))


@router.put(
    "/{hub_id}/catalogue/{solution_id}",
    response_model=CatalogueDecisionOut,
    summary="Approve, feature or hide a published listing in the hub's catalogue (its curators and admins); "
    "If-Match to replace an existing decision",
    responses={**CURATION_RESPONSES, 201: {"description": "A new decision"}},
)
def put_catalogue_entry(
    session: SessionDep,
    principal: Curator,
    request: Request,
    response: Response,
    hub_id: HubId,
    solution_id: SolutionId,
    body: CatalogueDecisionIn,
) -> CatalogueDecisionOut:
    def expected(entry_id: int) -> int:
        return expected_version(request, service.ENTRY_KIND, entry_id)

    entry, listing, created = service.put_catalogue_entry(session, principal, hub_id, solution_id, body, expected)
    session.commit()
    response.status_code = 201 if created else 200
    _entry_etag(response, entry.id or 0, entry.version)
    return CatalogueDecisionOut.from_entry(entry, SolutionOut.from_model(listing))


@router.delete(
    "/{hub_id}/catalogue/{solution_id}",
    status_code=204,
    summary="Remove a decision from the hub's catalogue (its curators and admins; If-Match)",
    responses=CURATION_RESPONSES,
)
def delete_catalogue_entry(
    session: SessionDep, principal: Curator, request: Request, hub_id: HubId, solution_id: SolutionId
) -> Response:
    def expected(entry_id: int) -> int:
        return expected_version(request, service.ENTRY_KIND, entry_id)

    service.delete_catalogue_entry(session, principal, hub_id, solution_id, expected)
    session.commit()
    return Response(status_code=204)
