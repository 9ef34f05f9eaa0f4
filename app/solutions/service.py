"""Reading solutions (vendors' listings), with the visibility rules of the listing lifecycle.

Only `published` listings are public. A vendor's members also see its unpublished listings, and the
platform's reviewers see all of them (`app.auth.permissions`). A listing the caller may not see is a 404,
never a 403, so that its existence does not leak.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import Session, col, select

from app.auth import permissions
from app.auth.principal import Principal
from app.cities.models import City
from app.core.errors import NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.hubs.models import CatalogueStatus, HubCatalogueEntry
from app.identity.models import OrganisationKind, Role
from app.kpis.models import Kpi
from app.kpis.service import slugify_code
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Maturity,
    PriceModel,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionDeployment,
    SolutionKpiImpact,
    SolutionLanguage,
    SolutionSdg,
)
from app.solutions.schemas import CityRefOut, DeploymentOut, KpiImpactOut, KpiRefOut, SolutionDetailOut, SolutionOut

# Weakest first: an `evidence` filter keeps claims at least this strong.
EVIDENCE_ORDER = (EvidenceLevel.claimed, EvidenceLevel.piloted, EvidenceLevel.verified)
# What a hub's public catalogue shows; `hidden` entries are the curator's "no".
LISTED_IN_HUB = (CatalogueStatus.approved, CatalogueStatus.featured)


class SolutionSort(StrEnum):
    # Member names equal the values, so GraphQL shows the same words as REST.
    alphabetical = "alphabetical"  # by title
    newest = "newest"


@dataclass(frozen=True)
class SolutionFilters:
    vendor: int | None = None
    country: str | None = None
    category: str | None = None
    dimension: str | None = None
    kpi: str | None = None
    sdg: int | None = None
    maturity: Maturity | None = None
    price_model: PriceModel | None = None
    language: str | None = None
    evidence: EvidenceLevel | None = None
    status: ListingStatus | None = None
    hub: int | None = None


def listing_visibility(principal: Principal) -> sa.ColumnElement[bool] | None:
    """The SQL condition for the listings `principal` may see; None when it may see them all."""
    if permissions.can_review_listings(principal):
        return None
    own = sorted(
        vendor_id
        for vendor_id in principal.target_ids(OrganisationKind.vendor, Role.vendor_member)
        if permissions.can_read_listing_drafts(principal, vendor_id)
    )
    published = col(Solution.status) == ListingStatus.published
    return sa.or_(published, col(Solution.vendor_id).in_(own)) if own else published


def can_see(principal: Principal, solution: Solution) -> bool:
    """The same rule as `listing_visibility`, for one loaded row."""
    return solution.status == ListingStatus.published or permissions.can_read_listing_drafts(
        principal, solution.vendor_id
    )


def kpi_id_for(value: str) -> sa.ScalarSelect[Any]:
    """The id of the KPI named by a slug (`EN-EN-AQ-1C`) or an official code (`EN: EN: AQ: 1C`)."""
    return select(Kpi.id).where(col(Kpi.slug) == slugify_code(value)).scalar_subquery()


def _list_options() -> list[Any]:
    return [
        selectinload(Solution.vendor),  # type: ignore[arg-type]
        selectinload(Solution.categories),  # type: ignore[arg-type]
        selectinload(Solution.sdgs),  # type: ignore[arg-type]
        selectinload(Solution.countries),  # type: ignore[arg-type]
        selectinload(Solution.languages),  # type: ignore[arg-type]
    ]


def _ids(statement: Any) -> Any:
    return col(Solution.id).in_(statement)


def list_solutions(
    session: Session,
    principal: Principal,
    filters: SolutionFilters,
    page: PageRequest,
    sort: SolutionSort = SolutionSort.alphabetical,
) -> PageResult[Solution]:
    statement = select(Solution).options(*_list_options())
    visible = listing_visibility(principal)
    if visible is not None:
        statement = statement.where(visible)
    if filters.status:
        statement = statement.where(col(Solution.status) == filters.status)
    if filters.vendor is not None:
        statement = statement.where(col(Solution.vendor_id) == filters.vendor)
    if filters.maturity:
        statement = statement.where(col(Solution.maturity) == filters.maturity)
    if filters.price_model:
        statement = statement.where(col(Solution.price_model) == filters.price_model)
    if filters.country:
        offered = select(SolutionCountry.solution_id).where(
            col(SolutionCountry.country_code) == filters.country.upper()
        )
        statement = statement.where(_ids(offered))
    if filters.category:
        category = select(SolutionCategory.solution_id).where(
            sa.func.lower(SolutionCategory.category) == filters.category.lower()
        )
        statement = statement.where(_ids(category))
    if filters.sdg is not None:
        statement = statement.where(_ids(select(SolutionSdg.solution_id).where(SolutionSdg.sdg == filters.sdg)))
    if filters.language:
        language = select(SolutionLanguage.solution_id).where(
            sa.func.lower(SolutionLanguage.language) == filters.language.lower()
        )
        statement = statement.where(_ids(language))
    if filters.kpi or filters.dimension or filters.evidence:
        # One claim must meet every impact condition: `kpi=X&evidence=verified` means a verified claim on X.
        claims = select(SolutionKpiImpact.solution_id)
        if filters.kpi:
            claims = claims.where(col(SolutionKpiImpact.kpi_id) == kpi_id_for(filters.kpi))
        if filters.dimension:
            in_dimension = select(Kpi.id).where(sa.func.lower(Kpi.dimension) == filters.dimension.lower())
            claims = claims.where(col(SolutionKpiImpact.kpi_id).in_(in_dimension))
        if filters.evidence:
            strong_enough = EVIDENCE_ORDER[EVIDENCE_ORDER.index(filters.evidence) :]
            claims = claims.where(col(SolutionKpiImpact.evidence_level).in_(strong_enough))
        statement = statement.where(_ids(claims))
    if filters.hub is not None:
        listed = select(HubCatalogueEntry.solution_id).where(
            HubCatalogueEntry.hub_id == filters.hub, col(HubCatalogueEntry.status).in_(LISTED_IN_HUB)
        )
        statement = statement.where(_ids(listed))
    if sort is SolutionSort.newest:
        # Ids grow with insertion; a datetime would not survive the cursor (see app.core.pagination).
        keys = [SortKey(Solution.id, descending=True)]  # type: ignore[arg-type]
    else:
        keys = [SortKey(Solution.title), SortKey(Solution.id)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_solution(session: Session, principal: Principal, solution_id: int) -> Solution:
    solution = session.exec(select(Solution).where(Solution.id == solution_id).options(*_list_options())).first()
    if solution is None or not can_see(principal, solution):
        raise NotFound(f"No solution with id {solution_id}. GET /api/v1/solutions lists the published solutions.")
    return solution


def solutions_by_id(session: Session, principal: Principal, solution_ids: Iterable[int]) -> dict[int, Solution]:
    """The listings among `solution_ids` that `principal` may see."""
    statement = select(Solution).where(col(Solution.id).in_(set(solution_ids))).options(*_list_options())
    visible = listing_visibility(principal)
    if visible is not None:
        statement = statement.where(visible)
    return {s.id or 0: s for s in session.exec(statement).all()}


def impacts_by_solution(session: Session, solution_ids: Iterable[int]) -> dict[int, list[SolutionKpiImpact]]:
    """KPI impact claims of each solution, in KPI code order, with their KPI and data point (one statement)."""
    statement = (
        select(SolutionKpiImpact)
        .join(Kpi, col(Kpi.id) == SolutionKpiImpact.kpi_id)
        .where(col(SolutionKpiImpact.solution_id).in_(set(solution_ids)))
        .options(
            joinedload(SolutionKpiImpact.kpi, innerjoin=True),  # type: ignore[arg-type]
            joinedload(SolutionKpiImpact.data_point),  # type: ignore[arg-type]
        )
        .order_by(col(Kpi.code), col(SolutionKpiImpact.id))
    )
    found: dict[int, list[SolutionKpiImpact]] = defaultdict(list)
    for impact in session.exec(statement).unique().all():
        found[impact.solution_id].append(impact)
    return found


def deployments_by_solution(session: Session, solution_ids: Iterable[int]) -> dict[int, list[DeploymentOut]]:
    """Where each solution is deployed, newest first."""
    statement = (
        select(SolutionDeployment.solution_id, SolutionDeployment.city_id, City.name, SolutionDeployment.year)
        .join(City, col(City.id) == SolutionDeployment.city_id)
        .where(col(SolutionDeployment.solution_id).in_(set(solution_ids)))
        .order_by(col(SolutionDeployment.year).desc(), col(City.name), col(SolutionDeployment.id))
    )
    found: dict[int, list[DeploymentOut]] = defaultdict(list)
    for solution_id, city_id, city_name, year in session.exec(statement).all():
        found[solution_id].append(DeploymentOut(city_id=city_id, city_name=city_name, year=year))
    return found


def get_solution_detail(session: Session, principal: Principal, solution_id: int) -> SolutionDetailOut:
    solution = get_solution(session, principal, solution_id)
    return SolutionDetailOut(
        **SolutionOut.from_model(solution).model_dump(),
        kpi_impacts=[KpiImpactOut.from_model(i) for i in impacts_by_solution(session, [solution_id])[solution_id]],
        deployments=deployments_by_solution(session, [solution_id])[solution_id],
    )


# References other resources show (a KPI by slug and name, a city by name), loaded in one statement each.


def kpi_refs(session: Session, kpi_ids: Iterable[int]) -> dict[int, KpiRefOut]:
    rows = session.exec(select(Kpi).where(col(Kpi.id).in_(set(kpi_ids)))).all()
    return {k.id or 0: KpiRefOut.from_model(k) for k in rows}


def city_refs(session: Session, city_ids: Iterable[int]) -> dict[int, CityRefOut]:
    rows = session.exec(select(City).where(col(City.id).in_(set(city_ids)))).all()
    return {c.id or 0: CityRefOut.from_model(c) for c in rows}
