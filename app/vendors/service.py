"""Reading vendors; registering them (admins), editing their profiles (their members), vetting them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit.service import diff, record
from app.auth import permissions
from app.auth.principal import Principal
from app.cities.models import Country
from app.core.concurrency import ExpectedVersion, claim_version, lock_for_write
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.core.slugs import free_slug, slugify
from app.identity.models import Organisation, OrganisationKind
from app.identity.service import ensure_organisation
from app.moderation.visibility import public_listing
from app.solutions.models import Solution
from app.vendors.models import Vendor, VendorSize
from app.vendors.schemas import (
    VendorCreateIn,
    VendorDetailOut,
    VendorFilters,
    VendorOut,
    VendorUpdateIn,
    VendorVerifyIn,
)


class VendorSort(StrEnum):
    # Member names equal the values, so GraphQL shows the same words as REST.
    name = "name"
    newest = "newest"


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
        .where(
            col(Solution.vendor_id).in_(set(vendor_ids)),
            public_listing(),  # published, and not hidden pending review (app/moderation)
        )
        .group_by(col(Solution.vendor_id))
    )
    return {vendor_id: int(count) for vendor_id, count in session.exec(statement).all()}


def get_vendor_detail(session: Session, vendor_id: int) -> VendorDetailOut:
    vendor = get_vendor(session, vendor_id)
    counts = published_solution_counts(session, [vendor_id])
    return VendorDetailOut(**VendorOut.from_model(vendor).model_dump(), published_solutions=counts.get(vendor_id, 0))


# ================================================================================================== writes

KIND = "vendor"
PROFILE_FIELDS = ("name", "country_code", "website", "size", "description")


def _profile(vendor: Vendor) -> dict[str, Any]:
    return {name: getattr(vendor, name) for name in PROFILE_FIELDS}


def _check_country(session: Session, code: str, field: str = "body.country_code") -> str:
    code = code.upper()
    if session.get(Country, code) is None:
        raise InvalidInput(
            f"Invalid vendor: {field}: no country {code!r}.",
            errors=[{"field": field, "message": f"no country {code!r}", "type": "unknown_country"}],
        )
    return code


def check_vendor_country(session: Session, code: str, field: str) -> str:
    """The ISO code of a country the platform knows (upper case), else a 422 naming `field`."""
    return _check_country(session, code, field)


def _check_name_free(session: Session, name: str, except_id: int | None = None) -> None:
    """Names are unique whatever their case ("ØDEGÅRD" is "Ødegård"; SQLite's lower() knows only ASCII, so the
    candidates are found by lower() and by slug, and compared here)."""
    wanted = name.strip().casefold()
    candidates = session.exec(
        select(Vendor).where(
            sa.or_(
                sa.func.lower(Vendor.name) == name.strip().lower(),
                col(Vendor.slug).startswith(slugify(name, 114, "vendor"), autoescape=True),
            )
        )
    ).all()
    taken = next((v for v in candidates if v.name.casefold() == wanted and v.id != except_id), None)
    if taken is not None:
        raise Conflict(
            f"A vendor named {taken.name!r} exists already (id {taken.id}).", extra={"existing_vendor_id": taken.id}
        )


def _vendor_for_write(session: Session, vendor_id: int) -> Vendor:
    vendor = session.exec(
        select(Vendor).where(Vendor.id == vendor_id).execution_options(populate_existing=True)
    ).first()
    if vendor is None:
        raise NotFound(f"No vendor with id {vendor_id}. GET /api/v1/vendors lists the vendors.")
    return vendor


def create_vendor(session: Session, principal: Principal, data: VendorCreateIn) -> VendorDetailOut:
    """Register a vendor (platform staff) with its organisation, so that members can be added to it."""
    lock_for_write(session)
    permissions.require(permissions.can_vet_vendors(principal), "Only platform admins may register vendors.")
    country = _check_country(session, data.country_code)
    name = data.name.strip()
    _check_name_free(session, name)
    vendor = Vendor(
        slug=free_slug(session, col(Vendor.slug), name, max_length=120, fallback="vendor"),
        name=name,
        country_code=country,
        website=data.website,
        size=data.size,
        description=data.description,
    )
    session.add(vendor)
    session.flush()
    organisation = ensure_organisation(session, OrganisationKind.vendor, vendor.id)
    record(
        session,
        principal,
        "vendor.create",
        KIND,
        vendor.id or 0,
        {**_profile(vendor), "organisation_id": organisation.id},
    )
    session.flush()
    return get_vendor_detail(session, vendor.id or 0)


def register_own_vendor(
    session: Session, principal: Principal, *, name: str, country_code: str, size: VendorSize, website: str = ""
) -> Vendor:
    """A vendor signed up by its own person (app/accounts): unverified and `self_registered`, so it keeps
    drafts until platform staff verify it (`permissions.may_submit_for_review`). `principal` is the new person.
    The caller has called `lock_for_write` first (the sign-up makes the account before the vendor)."""
    country = _check_country(session, country_code)
    name = name.strip()
    _check_name_free(session, name)
    vendor = Vendor(
        slug=free_slug(session, col(Vendor.slug), name, max_length=120, fallback="vendor"),
        name=name,
        country_code=country,
        website=website,
        size=size,
        self_registered=True,
    )
    session.add(vendor)
    session.flush()
    organisation = ensure_organisation(session, OrganisationKind.vendor, vendor.id)
    record(
        session,
        principal,
        "vendor.create",
        KIND,
        vendor.id or 0,
        {**_profile(vendor), "organisation_id": organisation.id, "self_registered": True},
    )
    return vendor


def check_vendor_name_free(session: Session, name: str) -> None:
    """409 when another vendor has this name (names are public: telling so reveals nothing of accounts)."""
    _check_name_free(session, name)


def update_vendor(
    session: Session, principal: Principal, vendor_id: int, data: VendorUpdateIn, expected: ExpectedVersion
) -> VendorDetailOut:
    """Edit a vendor's profile: its members (vendors:write or solutions:write) and admins."""
    lock_for_write(session)
    vendor = _vendor_for_write(session, vendor_id)
    permissions.require(
        permissions.can_edit_vendor(principal, vendor_id),
        f"Only members of vendor {vendor_id} (with vendors:write) and admins may edit its profile.",
    )
    vendor.version = claim_version(session, Vendor, vendor_id, expected())
    before = _profile(vendor)
    changes = data.model_dump(exclude_unset=True)
    if "country_code" in changes:
        changes["country_code"] = _check_country(session, changes["country_code"])
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        _check_name_free(session, changes["name"], except_id=vendor_id)
    for name, value in changes.items():
        setattr(vendor, name, value)
    if "name" in changes:
        organisation = session.exec(select(Organisation).where(Organisation.vendor_id == vendor_id)).first()
        if organisation is not None:
            organisation.name = vendor.name
    changes = diff(before, _profile(vendor))
    if changes:
        record(session, principal, "vendor.update", KIND, vendor_id, changes)
    session.flush()
    session.expire_all()
    return get_vendor_detail(session, vendor_id)


def verify_vendor(
    session: Session, principal: Principal, vendor_id: int, data: VendorVerifyIn, expected: ExpectedVersion
) -> VendorDetailOut:
    """Mark a vendor verified (platform staff, after checking the company exists), or withdraw the mark."""
    lock_for_write(session)
    vendor = _vendor_for_write(session, vendor_id)
    permissions.require(
        permissions.can_vet_vendors(principal), "Only platform admins may mark a vendor verified (or not)."
    )
    vendor.version = claim_version(session, Vendor, vendor_id, expected())
    changes: dict[str, Any] = {"verified": {"from": vendor.verified, "to": data.verified}}
    if data.note.strip():
        changes["note"] = data.note.strip()
    vendor.verified = data.verified
    record(session, principal, "vendor.verify" if data.verified else "vendor.unverify", KIND, vendor_id, changes)
    session.flush()
    session.expire_all()
    return get_vendor_detail(session, vendor_id)
