"""REST face of vendors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.core.concurrency import etag, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page
from app.vendors import service
from app.vendors.models import VendorSize
from app.vendors.schemas import VendorDetailOut, VendorOut

router = APIRouter(prefix="/api/v1/vendors", tags=["vendors"])


@router.get("", response_model=Page[VendorOut], summary="List vendors")
def list_vendors(
    session: SessionDep,
    page: PageDep,
    country: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country code")
    ] = None,
    size: Annotated[VendorSize | None, Query(description="micro, small, medium or large")] = None,
    verified: Annotated[bool | None, Query(description="Only vendors checked by platform staff (or not)")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Name prefix")] = None,
    sort: Annotated[service.VendorSort, Query(description="name, or newest first")] = service.VendorSort.name,
) -> Page[VendorOut]:
    filters = service.VendorFilters(country=country, size=size, verified=verified, q=q)
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
def get_vendor(
    session: SessionDep, request: Request, response: Response, vendor_id: Annotated[int, Path(ge=1)]
) -> VendorDetailOut | Response:
    out = service.get_vendor_detail(session, vendor_id)
    tag = etag("vendor", out.id, out.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return out
