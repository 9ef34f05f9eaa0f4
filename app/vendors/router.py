"""REST face of vendors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import AuthenticatedDep, require_scopes
from app.auth.principal import Principal, Scope
from app.core.concurrency import etag, if_match, not_modified, set_etag, with_etag
from app.core.deps import PageDep, SessionDep
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router
from app.vendors import service
from app.vendors.schemas import (
    VendorCreateIn,
    VendorDetailOut,
    VendorFilters,
    VendorOut,
    VendorUpdateIn,
    VendorVerifyIn,
)

router = api_router(prefix="/api/v1/vendors", tags=["vendors"])


@router.get("", response_model=Page[VendorOut], summary="List vendors")
def list_vendors(
    session: SessionDep,
    page: PageDep,
    filters: Annotated[VendorFilters, Query()],
    sort: Annotated[service.VendorSort, Query(description="name, or newest first")] = service.VendorSort.name,
) -> Page[VendorOut]:
    result = service.list_vendors(session, filters, page, sort)
    return Page(
        items=[VendorOut.from_model(v) for v in result.items], total=result.total, next_cursor=result.next_cursor
    )


@router.get(
    "/{vendor_id}",
    response_model=VendorDetailOut,
    summary="One vendor, with the number of its published solutions",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_vendor(session: SessionDep, request: Request, response: Response, vendor_id: Id) -> VendorDetailOut | Response:
    out = service.get_vendor_detail(session, vendor_id)
    tag = etag("vendor", out.id, out.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return out


# ------------------------------------------------------------------------------------------------- writes

WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) token"},
    403: {"description": "Not yours, or not an admin"},
    404: {"description": "No such vendor"},
    409: {"description": "Another vendor has this name"},
    412: {"description": "If-Match is stale: someone changed the vendor since you read it"},
    422: {"description": "Invalid input; unknown fields (verified, slug, ...) are refused"},
    428: {"description": "If-Match missing"},
}
VendorId = Id


@router.post(
    "",
    status_code=201,
    response_model=VendorDetailOut,
    summary="Register a vendor (admins; Idempotency-Key supported)",
    responses={**WRITE_RESPONSES, 201: {"description": "Created; Location names it"}},
)
def create_vendor(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_scopes(Scope.admin))],
    request: Request,
    body: VendorCreateIn,
) -> JSONResponse:
    def create() -> tuple[VendorDetailOut, str]:
        out = service.create_vendor(session, principal, body)
        return out, path_of(router, "get_vendor", vendor_id=out.id)

    return with_etag(create_once(session, principal, request, body, create), service.KIND)


@router.patch(
    "/{vendor_id}",
    response_model=VendorDetailOut,
    summary="Edit a vendor's profile (its members and admins; If-Match)",
    responses=WRITE_RESPONSES,
)
def update_vendor(
    session: SessionDep,
    principal: AuthenticatedDep,
    request: Request,
    response: Response,
    vendor_id: VendorId,
    body: VendorUpdateIn,
) -> VendorDetailOut:
    out = service.update_vendor(session, principal, vendor_id, body, if_match(request, service.KIND, vendor_id))
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out


@router.post(
    "/{vendor_id}/verify",
    response_model=VendorDetailOut,
    summary='Mark a vendor verified, or not with {"verified": false} (admins; If-Match)',
    responses=WRITE_RESPONSES,
)
def verify_vendor(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_scopes(Scope.admin))],
    request: Request,
    response: Response,
    vendor_id: VendorId,
    body: Annotated[VendorVerifyIn | None, Body()] = None,
) -> VendorDetailOut:
    expected = if_match(request, service.KIND, vendor_id)
    out = service.verify_vendor(session, principal, vendor_id, body or VendorVerifyIn(), expected)
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out
