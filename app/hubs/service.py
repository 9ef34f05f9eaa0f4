"""Country hubs: their public catalogues, and their curators' decisions (approve, feature, hide)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload
from sqlmodel import Session, col, select

from app.audit.service import diff, record
from app.auth import permissions
from app.auth.principal import Principal
from app.core.concurrency import claim_version, lock_for_write
from app.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult, SortKey, decode_cursor, encode_cursor, paginate
from app.hubs.models import CatalogueStatus, Hub, HubCatalogueEntry, HubCountry
from app.hubs.schemas import CatalogueDecisionIn
from app.hubs.schemas import HubFilters as HubFilters
from app.moderation.visibility import public_listing
from app.solutions import service as solutions
from app.solutions.models import ListingStatus, Solution, SolutionCategory, SolutionCountry, SolutionKpiImpact


class PublicCatalogueStatus(StrEnum):
    """The entries a hub's public catalogue shows (`hidden` is the curator's "no")."""

    approved = "approved"
    featured = "featured"


@dataclass(frozen=True)
class CatalogueFilters:
    # `hidden` only for the hub's curators (check_catalogue_filters).
    status: PublicCatalogueStatus | CatalogueStatus | None = None
    category: str | None = None
    kpi: str | None = None


def list_hubs(session: Session, filters: HubFilters, page: PageRequest) -> PageResult[Hub]:
    statement = select(Hub).options(selectinload(Hub.countries))  # type: ignore[arg-type]
    if filters.country:
        serving = select(HubCountry.hub_id).where(col(HubCountry.country_code) == filters.country.upper())
        statement = statement.where(col(Hub.id).in_(serving))
    return paginate(session, statement, [SortKey(Hub.name), SortKey(Hub.id)], page)  # type: ignore[arg-type]


def get_hub(session: Session, hub_id: int) -> Hub:
    hub = session.exec(select(Hub).where(Hub.id == hub_id).options(selectinload(Hub.countries))).first()  # type: ignore[arg-type]
    if hub is None:
        raise NotFound(f"No hub with id {hub_id}. GET /api/v1/hubs lists the hubs.")
    return hub


def catalogue_pages(
    session: Session, hub_ids: Iterable[int], filters: CatalogueFilters, page: PageRequest
) -> dict[int, PageResult[HubCatalogueEntry]]:
    """One page of the public catalogue of each hub, in two statements whatever the number of hubs.

    The public catalogue: approved and featured entries whose listing is published; featured first, then
    by title. The page of every hub is cut in SQL by a window function (keyset, as `app.core.pagination`),
    so that GraphQL can load the catalogues of many hubs at once.
    """
    hubs = sorted(set(hub_ids))
    featured_first = sa.case((col(HubCatalogueEntry.status) == CatalogueStatus.featured, 0), else_=1)
    keys: Sequence[Any] = (featured_first, col(Solution.title), col(HubCatalogueEntry.id))
    conditions: list[Any] = [
        col(HubCatalogueEntry.hub_id).in_(hubs),
        col(HubCatalogueEntry.status).in_([filters.status] if filters.status else solutions.LISTED_IN_HUB),
        public_listing(),  # published, not hidden by moderation
    ]
    if filters.category:
        conditions.append(
            col(Solution.id).in_(
                select(SolutionCategory.solution_id).where(
                    sa.func.lower(SolutionCategory.category) == filters.category.lower()
                )
            )
        )
    if filters.kpi:
        conditions.append(
            col(Solution.id).in_(
                select(SolutionKpiImpact.solution_id).where(
                    col(SolutionKpiImpact.kpi_id) == solutions.kpi_id_for(filters.kpi)
                )
            )
        )
    on_solution = col(Solution.id) == HubCatalogueEntry.solution_id

    after = _after(keys, decode_cursor(page.cursor, len(keys))) if page.cursor else sa.true()
    # Each hub's total, and how many of its entries lie after the cursor (for PageInfo.hasPreviousPage).
    totals_statement = (
        select(HubCatalogueEntry.hub_id, sa.func.count(), sa.func.count(sa.case((after, 1))))
        .join(Solution, on_solution)
        .where(*conditions)
        .group_by(col(HubCatalogueEntry.hub_id))
    )
    counts = {hub_id: (int(n), int(later)) for hub_id, n, later in session.exec(totals_statement).all()}

    windowed: Any = (
        select(
            HubCatalogueEntry,
            featured_first.label("sort_featured"),
            col(Solution.title).label("sort_title"),
            sa.func.row_number()
            .over(partition_by=col(HubCatalogueEntry.hub_id), order_by=[k.asc() for k in keys])
            .label("position"),
        )
        .join(Solution, on_solution)
        .where(*conditions)
    )
    if page.cursor:
        windowed = windowed.where(after)
    inner = windowed.subquery()
    entry = aliased(HubCatalogueEntry, inner)
    rows = session.execute(
        select(entry, inner.c.sort_featured, inner.c.sort_title)
        .where(inner.c.position <= page.limit + 1)
        .order_by(inner.c.hub_id, inner.c.position)
    ).all()

    by_hub: dict[int, list[tuple[HubCatalogueEntry, str]]] = {hub_id: [] for hub_id in hubs}
    for row, featured, title in rows:
        by_hub[row.hub_id].append((row, encode_cursor([featured, title, row.id])))
    results = {}
    for hub_id, found in by_hub.items():
        shown = found[: page.limit]
        total, later = counts.get(hub_id, (0, 0))
        results[hub_id] = PageResult(
            items=[e for e, _ in shown],
            total=total,
            next_cursor=shown[-1][1] if len(found) > page.limit else None,
            cursors=[c for _, c in shown],
            has_previous=total > later,
        )
    return results


def _after(keys: Sequence[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after `values` in an ascending sort on `keys`: (a > x) OR (a = x AND b > y) OR ..."""
    return sa.or_(*(sa.and_(*(keys[j] == values[j] for j in range(i)), keys[i] > values[i]) for i in range(len(keys))))


def get_catalogue(
    session: Session, hub_id: int, filters: CatalogueFilters, page: PageRequest
) -> PageResult[HubCatalogueEntry]:
    get_hub(session, hub_id)  # 404 for an unknown hub, rather than an empty catalogue
    return catalogue_pages(session, [hub_id], filters, page)[hub_id]


# ================================================================================================== curation
# A hub's curators (catalogue:write) and admins decide, per hub, on published listings: approve, feature
# or hide. A decision is created by PUT, replaced by PUT with If-Match, removed by DELETE with If-Match.

ENTRY_KIND = "hub_catalogue_entry"
ExpectedEntryVersion = Callable[[int], int]  # the entry's id -> the version the client read (If-Match)


def may_see_hidden(principal: Principal, hub_id: int) -> bool:
    return permissions.can_curate_hub(principal, hub_id)


def check_catalogue_filters(principal: Principal, hub_id: int, filters: CatalogueFilters) -> None:
    """Hidden entries are the curators' business (`?status=hidden`)."""
    if filters.status == CatalogueStatus.hidden and not may_see_hidden(principal, hub_id):
        if principal.is_anonymous:
            raise Unauthorized(
                "Hidden catalogue entries are for the hub's curators: this needs an access token.",
                headers={"WWW-Authenticate": 'Bearer realm="citymarket"'},
            )
        raise Forbidden(f"Hidden catalogue entries of hub {hub_id} are for its curators (catalogue:write) and admins.")


def _curated_hub(session: Session, principal: Principal, hub_id: int) -> Hub:
    hub = get_hub(session, hub_id)
    permissions.require(
        permissions.can_curate_hub(principal, hub_id),
        f"Only the curators of hub {hub_id} ({hub.name}), with catalogue:write, and admins may curate its catalogue.",
    )
    return hub


def review_queue(session: Session, principal: Principal, hub_id: int) -> list[int]:
    """What awaits the hub's curators (their ids): published listings offered in a country the hub serves, on which the
    hub has no decision yet (approve, feature or hide), oldest published first. The curators' and admins'."""
    _curated_hub(session, principal, hub_id)
    served = select(HubCountry.country_code).where(HubCountry.hub_id == hub_id)
    offered = select(SolutionCountry.solution_id).where(col(SolutionCountry.country_code).in_(served))
    decided = select(HubCatalogueEntry.solution_id).where(HubCatalogueEntry.hub_id == hub_id)
    statement = (
        select(Solution.id)
        .where(
            col(Solution.status) == ListingStatus.published,
            col(Solution.id).in_(offered),
            col(Solution.id).not_in(decided),
        )
        .order_by(col(Solution.published_at), col(Solution.id))
    )
    return [int(i) for i in session.exec(statement).all() if i is not None]


def _entry(session: Session, hub_id: int, solution_id: int) -> HubCatalogueEntry | None:
    return session.exec(
        select(HubCatalogueEntry)
        .where(HubCatalogueEntry.hub_id == hub_id, HubCatalogueEntry.solution_id == solution_id)
        .execution_options(populate_existing=True)
    ).first()


def _fields(entry: HubCatalogueEntry) -> dict[str, Any]:
    return {"status": entry.status.value, "note": entry.note}


def get_catalogue_entry(
    session: Session, principal: Principal, hub_id: int, solution_id: int
) -> tuple[HubCatalogueEntry, Solution]:
    """One decision: public when approved or featured on a published listing; else only for the curators."""
    get_hub(session, hub_id)
    entry = _entry(session, hub_id, solution_id)
    listing = solutions.solutions_by_id(session, principal, [solution_id]).get(solution_id)
    public = (
        entry is not None
        and entry.status in solutions.LISTED_IN_HUB
        and listing is not None
        and listing.status == ListingStatus.published
    )
    if entry is None or listing is None or not (public or may_see_hidden(principal, hub_id)):
        raise NotFound(f"Hub {hub_id} has no catalogue entry for solution {solution_id} that you may see.")
    return entry, listing


def put_catalogue_entry(
    session: Session,
    principal: Principal,
    hub_id: int,
    solution_id: int,
    data: CatalogueDecisionIn,
    expected: ExpectedEntryVersion,
) -> tuple[HubCatalogueEntry, Solution, bool]:
    """Decide on a published listing in this hub's catalogue; returns the entry, its listing and whether it is
    new. Replacing a decision needs the entry's ETag (If-Match)."""
    lock_for_write(session)
    _curated_hub(session, principal, hub_id)
    listing = solutions.solutions_by_id(session, principal, [solution_id]).get(solution_id)
    if listing is None:
        raise NotFound(f"No solution with id {solution_id}. GET /api/v1/solutions lists the published solutions.")
    if listing.status != ListingStatus.published:
        raise Conflict(
            f"Only published listings can be curated; solution {solution_id} is {listing.status.value}.",
            extra={"current_status": listing.status.value},
        )
    entry = _entry(session, hub_id, solution_id)
    now = utcnow()
    note = data.note.strip()
    if entry is None:
        entry = HubCatalogueEntry(
            hub_id=hub_id,
            solution_id=solution_id,
            status=data.status,
            note=note,
            decided_by_user_id=principal.user_id,
            decided_at=now,
        )
        session.add(entry)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"Someone decided on solution {solution_id} in hub {hub_id} at the same moment: "
                f"GET /api/v1/hubs/{hub_id}/catalogue/{solution_id} and retry with its ETag in If-Match."
            ) from exc
        changes = {"hub_id": hub_id, "solution_id": solution_id, **_fields(entry)}
        record(session, principal, f"{ENTRY_KIND}.create", ENTRY_KIND, entry.id or 0, changes)
        return entry, listing, True
    entry.version = claim_version(session, HubCatalogueEntry, entry.id or 0, expected(entry.id or 0))
    before = _fields(entry)
    entry.status, entry.note = data.status, note
    entry.decided_by_user_id, entry.decided_at = principal.user_id, now
    changes = {"hub_id": hub_id, "solution_id": solution_id, **diff(before, _fields(entry))}
    record(session, principal, f"{ENTRY_KIND}.update", ENTRY_KIND, entry.id or 0, changes)
    session.flush()
    return entry, listing, False


def delete_catalogue_entry(
    session: Session, principal: Principal, hub_id: int, solution_id: int, expected: ExpectedEntryVersion
) -> None:
    """Remove a decision: the listing is then neither listed nor hidden in this hub."""
    lock_for_write(session)
    _curated_hub(session, principal, hub_id)
    entry = _entry(session, hub_id, solution_id)
    if entry is None:
        raise NotFound(f"Hub {hub_id} has no catalogue entry for solution {solution_id}.")
    claim_version(session, HubCatalogueEntry, entry.id or 0, expected(entry.id or 0))
    changes = {"hub_id": hub_id, "solution_id": solution_id, "deleted": _fields(entry)}
    record(session, principal, f"{ENTRY_KIND}.delete", ENTRY_KIND, entry.id or 0, changes)
    session.delete(entry)
    session.flush()
