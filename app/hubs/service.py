"""Reading country hubs and their public catalogues."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload
from sqlmodel import Session, col, select

from app.core.errors import NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, decode_cursor, encode_cursor, paginate
from app.hubs.models import CatalogueStatus, Hub, HubCatalogueEntry, HubCountry
from app.solutions import service as solutions
from app.solutions.models import ListingStatus, Solution, SolutionCategory, SolutionKpiImpact


class PublicCatalogueStatus(StrEnum):
    """The entries a hub's public catalogue shows (`hidden` is the curator's "no")."""

    approved = "approved"
    featured = "featured"


@dataclass(frozen=True)
class HubFilters:
    country: str | None = None


@dataclass(frozen=True)
class CatalogueFilters:
    status: PublicCatalogueStatus | None = None
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
        col(Solution.status) == ListingStatus.published,
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

    totals_statement = (
        select(HubCatalogueEntry.hub_id, sa.func.count())
        .join(Solution, on_solution)
        .where(*conditions)
        .group_by(col(HubCatalogueEntry.hub_id))
    )
    totals = {hub_id: int(n) for hub_id, n in session.exec(totals_statement).all()}

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
        windowed = windowed.where(_after(keys, decode_cursor(page.cursor, len(keys))))
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
        results[hub_id] = PageResult(
            items=[e for e, _ in shown],
            total=totals.get(hub_id, 0),
            next_cursor=shown[-1][1] if len(found) > page.limit else None,
            cursors=[c for _, c in shown],
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
