"""Reading vendors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.errors import NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.solutions.models import ListingStatus, Solution
from app.vendors.models import Vendor, VendorSize
from app.vendors.schemas import VendorDetailOut, VendorOut


class VendorSort(StrEnum):
    # Member names equal the values, so GraphQL shows the same words as REST.
    name = "name"
    newest = "newest"


@dataclass(frozen=True)
class VendorFilters:
    country: str | None = None
    size: VendorSize | None = None
    verified: bool | None = None
    q: str | None = None


def list_vendors(
    session: Session, filters: VendorFilters, page: PageRequest, sort: VendorSort = VendorSort.name
) -> PageResult[Vendor]:
    statement = select(Vendor)
    if filters.country:
        statement = statement.where(col(Vendor.country_code) == filters.country.upper())
    if filters.size:
        statement = statement.where(col(Vendor.size) == filters.size)
    if filters.verified is not None:
        statement = statement.where(col(Vendor.verified) == filters.verified)
    if filters.q:
        statement = statement.where(sa.func.lower(Vendor.name).startswith(filters.q.lower(), autoescape=True))
    if sort is VendorSort.newest:
        # Ids grow with insertion; a datetime would not survive the cursor (see app.core.pagination).
        keys = [SortKey(Vendor.id, descending=True)]  # type: ignore[arg-type]
    else:
        keys = [SortKey(Vendor.name), SortKey(Vendor.id)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_vendor(session: Session, vendor_id: int) -> Vendor:
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound(f"No vendor with id {vendor_id}. GET /api/v1/vendors lists the vendors.")
    return vendor


def vendors_by_id(session: Session, vendor_ids: Iterable[int]) -> dict[int, Vendor]:
    rows = session.exec(select(Vendor).where(col(Vendor.id).in_(set(vendor_ids)))).all()
    return {v.id or 0: v for v in rows}


def published_solution_counts(session: Session, vendor_ids: Iterable[int]) -> dict[int, int]:
    """Published listings per vendor, in one GROUP BY (vendors without any are absent)."""
    statement = (
        select(Solution.vendor_id, sa.func.count())
        .where(col(Solution.vendor_id).in_(set(vendor_ids)), col(Solution.status) == ListingStatus.published)
        .group_by(col(Solution.vendor_id))
    )
    return {vendor_id: int(count) for vendor_id, count in session.exec(statement).all()}


def get_vendor_detail(session: Session, vendor_id: int) -> VendorDetailOut:
    vendor = get_vendor(session, vendor_id)
    counts = published_solution_counts(session, [vendor_id])
    return VendorDetailOut(**VendorOut.from_model(vendor).model_dump(), published_solutions=counts.get(vendor_id, 0))
