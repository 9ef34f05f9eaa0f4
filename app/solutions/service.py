"""Reading solutions (vendors' listings), with the visibility rules of the listing lifecycle.

Only `published` listings are public. A vendor's members also see its unpublished listings, and the
platform's reviewers see all of them (`app.auth.permissions`). A listing the caller may not see is a 404,
never a 403, so that its existence does not leak.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.audit.service import diff, events_of, record
from app.auth import permissions
from app.auth.principal import Principal
from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution, ContentStatus
from app.challenges.models import Proposal
from app.cities.models import City, Country
from app.core.concurrency import ExpectedVersion, claim_version, lock_for_write
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.languages import language_tag
from app.core.models import utcnow
from app.core.negotiation import negotiate
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.core.slugs import free_slug
from app.hubs.models import CatalogueStatus, HubCatalogueEntry
from app.identity.models import OrganisationKind, Role
from app.kpis.models import Kpi, KpiDataPoint
from app.kpis.schemas import KpiRefOut
from app.kpis.service import data_point_by_key, data_point_keys, framework_categories, kpis_by_reference, slugify_code
from app.moderation.models import ContentKind
from app.moderation.visibility import hidden_filter, hidden_from, is_hidden_column
from app.solutions import lifecycle
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionDeployment,
    SolutionKpiImpact,
    SolutionLanguage,
    SolutionSdg,
    SolutionTranslation,
    TranslationOrigin,
)
from app.solutions.schemas import (
    TEXT_FIELDS,
    DeploymentIn,
    DeploymentOut,
    FieldLanguagesOut,
    KpiImpactIn,
    KpiImpactOut,
    SolutionBaseOut,
    SolutionContentIn,
    SolutionCreateIn,
    SolutionDetailOut,
    SolutionOut,
    SolutionTranslationIn,
    SolutionTranslationOut,
    SolutionUpdateIn,
    row_fields,
)
from app.solutions.schemas import (
    SolutionFilters as SolutionFilters,  # re-exported: the filters the list functions take
)
from app.vendors.models import Vendor

# Weakest first: an `evidence` filter keeps claims at least this strong.
EVIDENCE_ORDER = (EvidenceLevel.claimed, EvidenceLevel.piloted, EvidenceLevel.verified)
# What a hub's public catalogue shows; `hidden` entries are the curator's "no".
LISTED_IN_HUB = (CatalogueStatus.approved, CatalogueStatus.featured)


class SolutionSort(StrEnum):
    # Member names equal the values, so GraphQL shows the same words as REST.
    alphabetical = "alphabetical"  # by title
    newest = "newest"


def listing_visibility(principal: Principal) -> sa.ColumnElement[bool] | None:
    """The SQL condition for the listings `principal` may see; None when it may see them all."""
    if permissions.can_review_listings(principal):
        return None
    own = sorted(
        vendor_id
        for vendor_id in principal.target_ids(OrganisationKind.vendor, Role.vendor_member)
        if permissions.can_read_listing_drafts(principal, vendor_id)
    )
    # A listing hidden pending review (app/moderation) leaves every public read; its vendor and its
    # moderators (admins, the curators of a hub serving a country it is offered in) still see it.
    shown = hidden_filter(principal, ContentKind.listing, col(Solution.id))
    published: sa.ColumnElement[bool] = col(Solution.status) == ListingStatus.published
    if shown is not None:
        published = sa.and_(published, shown)
    return sa.or_(published, col(Solution.vendor_id).in_(own)) if own else published


def can_see(principal: Principal, solution: Solution | sa.Row[Any]) -> bool:
    """The same rule as `listing_visibility`, for one loaded row (an entity or a row of its columns)."""
    return solution.status == ListingStatus.published or permissions.can_read_listing_drafts(
        principal, solution.vendor_id
    )


def hidden_listing_from(
    session: Session, principal: Principal, solution_id: int, vendor_id: int, hidden: bool | None = None
) -> bool:
    """A listing hidden pending review, to anyone but its vendor and moderators (`listing_visibility`);
    `hidden`: its state, when the caller's statement already read it (`is_hidden_column`)."""
    owner = permissions.can_read_listing_drafts(principal, vendor_id)
    return hidden_from(session, principal, ContentKind.listing, solution_id, owner, hidden)


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
    *,
    ids: tuple[int, ...] | None = None,
) -> PageResult[SolutionOut]:
    """`ids`: only these listings (the notifier matches saved alerts on new ones with the filters of the list;
    not a query parameter of its own)."""
    statement = sa.select(*SOLUTION_COLUMNS)
    visible = listing_visibility(principal)
    if visible is not None:
        statement = statement.where(visible)
    if filters.status:
        statement = statement.where(col(Solution.status) == filters.status)
    if ids is not None:
        statement = statement.where(col(Solution.id).in_(ids))
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
    result = paginate(session, statement, keys, page, entities=False, page_columns=_with_everything)
    return replace(result, items=[solution_out(row) for row in result.items])


# The read path builds the output schemas from plain rows (SQLAlchemy Core), not from ORM objects: loading
# 50 listings with their categories, SDGs, countries and languages as ORM instances cost ~10 ms of the
# ~14 ms a 50-row page took (profile in issue 14). Its fixed statements are built once, here, with bound
# parameters: building a statement and its cache key per request cost about as much as running it.
def _table(model: Any) -> sa.Table:
    table: sa.Table = sa.inspect(model).local_table
    return table


_solution, _vendor = _table(Solution), _table(Vendor)
SOLUTION_COLUMNS = tuple(_solution.columns)
# The list values of a listing, as correlated subqueries of its row: the values joined by U+001F (input
# schemas refuse control characters: app/core/text.py), split and sorted in Python.
_SEPARATOR = "\x1f"
_LIST_VALUES = {
    kind: sa.select(sa.func.aggregate_strings(sa.cast(table.c[value], sa.String), _SEPARATOR))
    .where(table.c.solution_id == _solution.c.id)
    .scalar_subquery()
    .label(kind)
    for kind, table, value in (
        ("categories", _table(SolutionCategory), "category"),
        ("sdgs", _table(SolutionSdg), "sdg"),
        ("countries", _table(SolutionCountry), "country_code"),
        ("languages", _table(SolutionLanguage), "language"),
    )
}
_VENDOR_REF = (
    _vendor.c.slug.label("vendor_slug"),
    _vendor.c.name.label("vendor_name"),
    _vendor.c.country_code.label("vendor_country_code"),
    _vendor.c.verified.label("vendor_verified"),
)


def _with_everything(statement: sa.Select[Any]) -> sa.Select[Any]:
    """A SELECT of SOLUTION_COLUMNS, with each row's vendor and list values: a SolutionOut per row."""
    return statement.add_columns(*_VENDOR_REF, *_LIST_VALUES.values()).join(
        _vendor, _vendor.c.id == _solution.c.vendor_id
    )


# One listing, with its moderation state (a column of the same statement, not one of its own).
_ONE_SOLUTION = _with_everything(
    sa.select(*SOLUTION_COLUMNS, is_hidden_column(ContentKind.listing, _solution.c.id)).where(
        _solution.c.id == sa.bindparam("id")
    )
)


def _values(joined: str | None, kind: str) -> list[Any]:
    if not joined:
        return []
    values = joined.split(_SEPARATOR)
    return sorted(map(int, values)) if kind == "sdgs" else sorted(values)


def solution_out(row: Any) -> SolutionOut:
    """The SolutionOut of a row of `_with_everything`: one dict, validated once (building the nested models one
    by one, in Python, cost twice as much: issue 14)."""
    fields = row_fields(row, {kind: _values(getattr(row, kind), kind) for kind in _LIST_VALUES})
    fields["vendor"] = {
        "id": row.vendor_id,
        "slug": row.vendor_slug,
        "name": row.vendor_name,
        "country_code": row.vendor_country_code,
        "verified": row.vendor_verified,
    }
    return SolutionOut.model_validate(fields)


_impact, _kpi, _data_point, _deployment, _city = (
    _table(SolutionKpiImpact),
    _table(Kpi),
    _table(KpiDataPoint),
    _table(SolutionDeployment),
    _table(City),
)
# The claims as impacts_by_solution orders them (KPI code, then id), with their KPI and data point.
_IMPACTS = (
    sa.select(
        _kpi.c.slug,
        _kpi.c.code,
        _kpi.c.name,
        _data_point.c.key,
        _impact.c.expected_effect,
        _impact.c.evidence_level,
        _impact.c.case_study_id,
        _impact.c.note,
    )
    .join(_kpi, _kpi.c.id == _impact.c.kpi_id)
    .outerjoin(_data_point, _data_point.c.id == _impact.c.data_point_id)
    .where(_impact.c.solution_id == sa.bindparam("id"))
    .order_by(_kpi.c.code, _impact.c.id)
)
# As deployments_by_solution orders them: newest first.
_DEPLOYMENTS = (
    sa.select(_deployment.c.city_id, _city.c.name, _deployment.c.year)
    .join(_city, _city.c.id == _deployment.c.city_id)
    .where(_deployment.c.solution_id == sa.bindparam("id"))
    .order_by(_deployment.c.year.desc(), _city.c.name, _deployment.c.id)
)


def get_solution(session: Session, principal: Principal, solution_id: int) -> SolutionOut:
    row = session.connection().execute(_ONE_SOLUTION, {"id": solution_id}).first()
    if (
        row is None
        or not can_see(principal, row)
        or hidden_listing_from(session, principal, row.id, row.vendor_id, row.moderation_hidden)
    ):
        raise NotFound(f"No solution with id {solution_id}. GET /api/v1/solutions lists the published solutions.")
    return solution_out(row)


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


def _impact_outs(session: Session, solution_id: int) -> list[KpiImpactOut]:
    return [
        KpiImpactOut(
            kpi=KpiRefOut(slug=slug, code=code, name=name),
            data_point=key or "",
            expected_effect=effect,
            evidence_level=evidence,
            case_study_id=case_study_id,
            note=note,
        )
        for slug, code, name, key, effect, evidence, case_study_id, note in session.connection().execute(
            _IMPACTS, {"id": solution_id}
        )
    ]


def get_solution_detail(session: Session, principal: Principal, solution_id: int) -> SolutionDetailOut:
    out = get_solution(session, principal, solution_id)
    return SolutionDetailOut.model_construct(
        **{name: getattr(out, name) for name in SolutionOut.model_fields},
        kpi_impacts=_impact_outs(session, solution_id),
        deployments=[
            DeploymentOut(city_id=city_id, city_name=city_name, year=year)
            for city_id, city_name, year in session.connection().execute(_DEPLOYMENTS, {"id": solution_id})
        ],
    )


# ================================================================================================== writes
# A vendor's members (solutions:write) create and edit its listings and move them through the lifecycle
# (app.solutions.lifecycle); the platform's reviewers (admins) decide on submitted ones. Every write: the
# caller's right on THAT listing (404 when it may not see it, 403 when it may see but not change it),
# If-Match on changes (claim_version: 428/412), all-or-nothing validation before anything is written
# (422 naming each bad field), an audit event with the change, in the caller's one unit of work.

KIND = "solution"
_NOT_FOUND = "No solution with id {id}. GET /api/v1/solutions lists the published solutions."


@dataclass(frozen=True)
class ImpactSpec:
    kpi_id: int
    data_point_id: int | None
    expected_effect: float
    evidence_level: EvidenceLevel
    case_study_id: int | None
    note: str


@dataclass
class Content:
    """Validated content: only the fields the request set (None: leave as it is)."""

    scalars: dict[str, Any]
    categories: list[str] | None = None
    sdgs: list[int] | None = None
    countries: list[str] | None = None
    languages: list[str] | None = None
    impacts: list[ImpactSpec] | None = None
    deployments: list[tuple[int, int]] | None = None


def _error(field: str, message: str, type_: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": type_}


def _write_options() -> list[Any]:
    return [
        *_list_options(),
        selectinload(Solution.impacts),  # type: ignore[arg-type]
        selectinload(Solution.deployments),  # type: ignore[arg-type]
    ]


def _load_for_write(session: Session, principal: Principal, solution_id: int) -> Solution:
    """The listing with everything a write touches, current (after lock_for_write); 404 if invisible."""
    solution = session.exec(
        select(Solution)
        .where(Solution.id == solution_id)
        .options(*_write_options())
        .execution_options(populate_existing=True)
    ).first()
    if solution is None or not can_see(principal, solution):
        raise NotFound(_NOT_FOUND.format(id=solution_id))
    return solution


def _require_vendor_right(principal: Principal, solution: Solution) -> None:
    permissions.require(
        permissions.can_edit_listing(principal, solution.vendor_id),
        f"Only members of vendor {solution.vendor_id} (with solutions:write) and admins may change this listing.",
    )


def snapshot(session: Session, solution: Solution) -> dict[str, Any]:
    """The listing's content as the audit trail records it (collections loaded)."""
    kpi_slugs = dict(
        session.exec(select(Kpi.id, Kpi.slug).where(col(Kpi.id).in_({i.kpi_id for i in solution.impacts}))).all()
    )
    point_ids = {i.data_point_id for i in solution.impacts if i.data_point_id is not None}
    point_keys = dict(
        session.exec(select(KpiDataPoint.id, KpiDataPoint.key).where(col(KpiDataPoint.id).in_(point_ids))).all()
    )
    return {
        "title": solution.title,
        "summary": solution.summary,
        "description": solution.description,
        "maturity": solution.maturity.value,
        "price_model": solution.price_model.value,
        "categories": sorted(c.category for c in solution.categories),
        "sdgs": sorted(s.sdg for s in solution.sdgs),
        "countries": sorted(c.country_code for c in solution.countries),
        "languages": sorted(lang.language for lang in solution.languages),
        "standards": list(solution.standards),
        "kpi_impacts": sorted(
            (
                {
                    "kpi": kpi_slugs.get(i.kpi_id, str(i.kpi_id)),
                    "data_point": point_keys.get(i.data_point_id, "") if i.data_point_id is not None else "",
                    "expected_effect": i.expected_effect,
                    "evidence_level": i.evidence_level.value,
                    "case_study_id": i.case_study_id,
                    "note": i.note,
                }
                for i in solution.impacts
            ),
            key=lambda d: str(d["kpi"]),
        ),
        "deployments": sorted([d.city_id, d.year] for d in solution.deployments),
    }


def _dedupe(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def validate_content(
    session: Session, principal: Principal, solution_id: int | None, body: SolutionContentIn
) -> Content:
    """Check every field the request set against the data (KPI framework, countries, cities, case studies);
    one 422 naming every bad field, before anything is written."""
    given = body.model_fields_set
    errors: list[dict[str, str]] = []
    scalars: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("title", "summary", "description", "maturity", "price_model", "standards")
        if name in given
    }
    if "title" in scalars and not scalars["title"].strip():
        errors.append(_error("body.title", "must not be blank", "blank"))
    if "standards" in scalars:
        scalars["standards"] = _dedupe(s.strip() for s in scalars["standards"] if s.strip())
    content = Content(scalars=scalars)

    if body.categories is not None:
        known = framework_categories(session)
        content.categories = []
        for n, name in enumerate(body.categories):
            canonical = known.get(name.strip().lower())
            if canonical is None:
                errors.append(
                    _error(
                        f"body.categories.{n}",
                        f"{name!r} is not a category of the KPI framework; one of: {', '.join(sorted(known.values()))}",
                        "unknown_category",
                    )
                )
            elif canonical not in content.categories:
                content.categories.append(canonical)
    if body.sdgs is not None:
        content.sdgs = sorted(set(body.sdgs))
    if body.countries is not None:
        codes = _dedupe(c.upper() for c in body.countries)
        known_codes = set(session.exec(select(Country.code).where(col(Country.code).in_(codes))).all())
        for n, code in enumerate(c.upper() for c in body.countries):
            if code not in known_codes:
                errors.append(
                    _error(f"body.countries.{n}", f"no country {code!r} (GET /api/v1/countries)", "unknown_country")
                )
        content.countries = codes
    if body.languages is not None:
        content.languages = _dedupe(lang.lower() for lang in body.languages)
    if body.kpi_impacts is not None:
        content.impacts = _validate_impacts(session, principal, solution_id, body.kpi_impacts, errors)
    if body.deployments is not None:
        content.deployments = _validate_deployments(session, body.deployments, errors)
    if errors:
        fields = ", ".join(e["field"] for e in errors)
        raise InvalidInput(
            f"Invalid listing: {fields}. " + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
            errors=errors,
        )
    return content


def _validate_impacts(
    session: Session,
    principal: Principal,
    solution_id: int | None,
    impacts: Sequence[KpiImpactIn],
    errors: list[dict[str, str]],
) -> list[ImpactSpec]:
    kpis = kpis_by_reference(session, {i.kpi for i in impacts})
    case_ids = {i.case_study_id for i in impacts if i.case_study_id is not None}
    cases = {
        c.id or 0: c
        for c in session.exec(select(CaseStudy).where(col(CaseStudy.id).in_(case_ids))).all()
        if c.status == ContentStatus.published or permissions.can_read_unpublished_content(principal)
    }
    linked = set(
        session.exec(
            select(CaseStudySolution.case_study_id).where(
                col(CaseStudySolution.case_study_id).in_(case_ids), CaseStudySolution.solution_id == solution_id
            )
        ).all()
        if solution_id is not None
        else []
    )
    measured: dict[int, set[int]] = defaultdict(set)
    for measured_case, measured_kpi in session.exec(
        select(CaseStudyOutcome.case_study_id, CaseStudyOutcome.kpi_id).where(
            col(CaseStudyOutcome.case_study_id).in_(case_ids)
        )
    ).all():
        measured[measured_case].add(measured_kpi)

    specs: list[ImpactSpec] = []
    seen: dict[int, int] = {}
    for n, impact in enumerate(impacts):
        where = f"body.kpi_impacts.{n}"
        kpi = kpis.get(impact.kpi)
        if kpi is None:
            errors.append(
                _error(
                    f"{where}.kpi",
                    f"no KPI with slug or code {impact.kpi!r} (slugs look like 'EN-EN-AQ-1C'; GET /api/v1/kpis)",
                    "unknown_kpi",
                )
            )
            continue
        kpi_id = kpi.id or 0
        if kpi_id in seen:
            errors.append(
                _error(
                    f"{where}.kpi",
                    f"KPI {kpi.slug} is already claimed by kpi_impacts.{seen[kpi_id]}: one claim per KPI",
                    "duplicate",
                )
            )
            continue
        seen[kpi_id] = n
        data_point = data_point_by_key(kpi, impact.data_point)
        if data_point is None:
            keys = ", ".join(repr(k) for k in data_point_keys(kpi))
            errors.append(
                _error(
                    f"{where}.data_point",
                    f"KPI {kpi.slug} has no data point {impact.data_point!r}; its data points are {keys}",
                    "unknown_data_point",
                )
            )
            continue
        case_id = impact.case_study_id
        if case_id is not None and case_id not in cases:
            errors.append(_error(f"{where}.case_study_id", f"no case study with id {case_id}", "unknown_case_study"))
            continue
        if impact.evidence_level is EvidenceLevel.verified:
            problem: str | None = None
            if case_id is None:
                problem = "a verified claim needs the case_study_id of the case study whose outcomes back it"
            elif case_id not in linked:
                problem = (
                    f"case study {case_id} does not list this solution among those it used"
                    if solution_id is not None
                    else f"case study {case_id} cannot list a listing that does not exist yet: create it with "
                    "evidence_level claimed or piloted, and make it verified once the case study links it"
                )
            elif kpi_id not in measured[case_id]:
                problem = f"case study {case_id} measured no outcome on KPI {kpi.slug}"
            if problem is not None:
                errors.append(_error(f"{where}.evidence_level", problem, "unverified"))
                continue
        specs.append(
            ImpactSpec(
                kpi_id=kpi_id,
                # The KPI measured as a whole is "no data point" on a claim.
                data_point_id=data_point.id if data_point.key else None,
                expected_effect=impact.expected_effect,
                evidence_level=impact.evidence_level,
                case_study_id=case_id,
                note=impact.note,
            )
        )
    return specs


def _validate_deployments(
    session: Session, deployments: Sequence[DeploymentIn], errors: list[dict[str, str]]
) -> list[tuple[int, int]]:
    city_ids = {d.city_id for d in deployments}
    known = set(session.exec(select(City.id).where(col(City.id).in_(city_ids))).all())
    result: list[tuple[int, int]] = []
    for n, deployment in enumerate(deployments):
        pair = (deployment.city_id, deployment.year)
        if deployment.city_id not in known:
            errors.append(
                _error(f"body.deployments.{n}.city_id", f"no city with id {deployment.city_id}", "unknown_city")
            )
        elif pair in result:
            errors.append(_error(f"body.deployments.{n}", f"city {pair[0]} in {pair[1]} is listed twice", "duplicate"))
        else:
            result.append(pair)
    return result


def _apply_content(solution: Solution, content: Content) -> None:
    """Write validated content: scalars set, sets replaced by difference (unchanged rows stay as they are)."""
    sid = solution.id or 0
    for name, value in content.scalars.items():
        setattr(solution, name, value)
    if content.categories is not None:
        _replace(
            solution.categories, "category", content.categories, lambda v: SolutionCategory(solution_id=sid, category=v)
        )
    if content.sdgs is not None:
        _replace(solution.sdgs, "sdg", content.sdgs, lambda v: SolutionSdg(solution_id=sid, sdg=v))
    if content.countries is not None:
        _replace(
            solution.countries,
            "country_code",
            content.countries,
            lambda v: SolutionCountry(solution_id=sid, country_code=v),
        )
    if content.languages is not None:
        _replace(
            solution.languages, "language", content.languages, lambda v: SolutionLanguage(solution_id=sid, language=v)
        )
    if content.impacts is not None:
        current = {i.kpi_id: i for i in solution.impacts}
        wanted = {spec.kpi_id: spec for spec in content.impacts}
        for kpi_id, impact in current.items():
            if kpi_id not in wanted:
                solution.impacts.remove(impact)
        for kpi_id, spec in wanted.items():
            impact = current.get(kpi_id) or SolutionKpiImpact(
                solution_id=sid, kpi_id=kpi_id, expected_effect=spec.expected_effect, evidence_level=spec.evidence_level
            )
            impact.data_point_id = spec.data_point_id
            impact.expected_effect = spec.expected_effect
            impact.evidence_level = spec.evidence_level
            impact.case_study_id = spec.case_study_id
            impact.note = spec.note
            if kpi_id not in current:
                solution.impacts.append(impact)
    if content.deployments is not None:
        present = {(d.city_id, d.year): d for d in solution.deployments}
        for key, deployment in present.items():
            if key not in content.deployments:
                solution.deployments.remove(deployment)
        for city_id, year in content.deployments:
            if (city_id, year) not in present:
                solution.deployments.append(SolutionDeployment(solution_id=sid, city_id=city_id, year=year))


def _replace(rows: list[Any], attribute: str, values: Sequence[Any], make: Callable[[Any], Any]) -> None:
    present = {getattr(row, attribute): row for row in rows}
    for value, row in present.items():
        if value not in values:
            rows.remove(row)
    for value in values:
        if value not in present:
            rows.append(make(value))


def _missing(solution: Solution) -> list[str]:
    return lifecycle.missing_for_publication(
        title=solution.title,
        summary=solution.summary,
        categories=[c.category for c in solution.categories],
        countries=[c.country_code for c in solution.countries],
        impacts=len(solution.impacts),
    )


def _detail_after_write(session: Session, principal: Principal, solution_id: int) -> SolutionDetailOut:
    session.flush()
    session.expire_all()
    return get_solution_detail(session, principal, solution_id)


def create_solution(session: Session, principal: Principal, body: SolutionCreateIn) -> SolutionDetailOut:
    """A new draft listing of the body's vendor (its members with solutions:write, or an admin)."""
    lock_for_write(session)
    vendor = session.get(Vendor, body.vendor_id)
    if vendor is None:
        raise InvalidInput(
            f"Invalid listing: body.vendor_id: no vendor with id {body.vendor_id}.",
            errors=[_error("body.vendor_id", f"no vendor with id {body.vendor_id}", "unknown_vendor")],
        )
    permissions.require(
        permissions.can_edit_listing(principal, body.vendor_id),
        f"You may create listings only for a vendor you are a member of (with solutions:write); "
        f"you are not one of vendor {body.vendor_id} ({vendor.name}).",
    )
    content = validate_content(session, principal, None, body)
    solution = Solution(
        vendor_id=body.vendor_id,
        slug=free_slug(session, col(Solution.slug), body.title, max_length=160, fallback="solution"),
        title=body.title,
        maturity=body.maturity,
        price_model=body.price_model,
        status=ListingStatus.draft,
        categories=[],
        sdgs=[],
        countries=[],
        languages=[],
        impacts=[],
        deployments=[],
    )
    session.add(solution)
    session.flush()  # its id, for its rows
    _apply_content(solution, content)
    session.flush()
    record(
        session,
        principal,
        "solution.create",
        KIND,
        solution.id or 0,
        {"vendor_id": vendor.id, **snapshot(session, solution)},
    )
    return _detail_after_write(session, principal, solution.id or 0)


def update_solution(
    session: Session, principal: Principal, solution_id: int, body: SolutionUpdateIn, expected: ExpectedVersion
) -> SolutionDetailOut:
    """Edit a listing in draft, changes_requested or published (it stays published; the audit event holds the
    diff, for the reviewers). A published listing must stay complete."""
    lock_for_write(session)
    solution = _load_for_write(session, principal, solution_id)
    _require_vendor_right(principal, solution)
    solution.version = claim_version(session, Solution, solution_id, expected())
    lifecycle.check_editable(principal, solution.status, solution.vendor_id)
    content = validate_content(session, principal, solution_id, body)
    before = snapshot(session, solution)
    _apply_content(solution, content)
    if solution.status == ListingStatus.published:
        lifecycle.require_complete(_missing(solution), "kept published")
    changes = diff(before, snapshot(session, solution))
    if changes:  # an edit that changes nothing leaves no event
        record(session, principal, "solution.update", KIND, solution_id, {"status": solution.status.value, **changes})
    return _detail_after_write(session, principal, solution_id)


def transition_solution(
    session: Session,
    principal: Principal,
    solution_id: int,
    action: lifecycle.Action,
    expected: ExpectedVersion,
    note: str = "",
) -> SolutionDetailOut:
    """Move a listing through its lifecycle (app.solutions.lifecycle): 403 for a move that is not the caller's,
    409 (with the current status and the caller's possible moves) for a move not out of this status."""
    lock_for_write(session)
    solution = _load_for_write(session, principal, solution_id)
    transition = lifecycle.TRANSITIONS[action]
    if not lifecycle.may_act(principal, transition.actor, solution.vendor_id):
        who = (
            "the platform's reviewers (admins)"
            if transition.actor is lifecycle.Actor.reviewer
            else f"members of vendor {solution.vendor_id} (with solutions:write) and admins"
        )
        raise Forbidden(f"Only {who} may {action.value} this listing.")
    if action is lifecycle.Action.submit and not principal.is_admin:
        vendor = session.get(Vendor, solution.vendor_id)
        if vendor is not None and not permissions.may_submit_for_review(vendor.verified, vendor.self_registered):
            raise Forbidden(
                f"Vendor {vendor.name} signed up on its own and is not verified yet: it may keep and edit drafts, "
                "but submits listings for review once a platform admin has verified it.",
                type_="vendor-unverified",
                title="Vendor not verified",
            )
    solution.version = claim_version(session, Solution, solution_id, expected())
    lifecycle.check_transition(principal, solution.status, solution.vendor_id, action)
    note = note.strip()
    if transition.note_required and not note:
        raise InvalidInput(
            f"Invalid request: body.note. {action.value} needs a note telling the vendor why (and what to change).",
            errors=[_error("body.note", "required for this action", "missing")],
        )
    if action in lifecycle.NEEDS_COMPLETE:
        lifecycle.require_complete(_missing(solution), lifecycle.past_tense(action))
    before = solution.status
    solution.status = transition.target
    now = utcnow()
    if action is lifecycle.Action.submit:
        solution.submitted_at = now
    if action is lifecycle.Action.publish:
        solution.published_at = now
    changes: dict[str, Any] = {"status": {"from": before.value, "to": transition.target.value}}
    if note:
        changes["note"] = note
    record(session, principal, f"solution.{action.value.replace('-', '_')}", KIND, solution_id, changes)
    return _detail_after_write(session, principal, solution_id)


def delete_solution(session: Session, principal: Principal, solution_id: int, expected: ExpectedVersion) -> None:
    """Delete a draft that never went to review (nobody else can have relied on it); anything else is archived."""
    lock_for_write(session)
    solution = _load_for_write(session, principal, solution_id)
    _require_vendor_right(principal, solution)
    claim_version(session, Solution, solution_id, expected())
    if solution.status != ListingStatus.draft or solution.submitted_at is not None:
        allowed = lifecycle.allowed_actions(principal, solution.status, solution.vendor_id)
        raise lifecycle.IllegalTransition(
            f"Only a draft that was never submitted can be deleted; this one is {solution.status.value}"
            f"{' and was submitted before' if solution.submitted_at else ''}: archive it instead. "
            f"From {solution.status.value} you may: {', '.join(a.value for a in allowed) or 'none'}.",
            extra={"current_status": solution.status.value, "allowed_actions": [a.value for a in allowed]},
        )
    proposals = session.exec(select(Proposal.id).where(Proposal.solution_id == solution_id)).all()
    if proposals:
        raise Conflict(
            f"Proposals {sorted(p for p in proposals if p)} point at this listing: archive it instead of deleting it."
        )
    record(session, principal, "solution.delete", KIND, solution_id, {"deleted": snapshot(session, solution)})
    session.delete(solution)
    session.flush()


def solution_history(
    session: Session, principal: Principal, solution_id: int, page: PageRequest
) -> PageResult[AuditEvent]:
    """The listing's audit trail (edits, submissions, review notes): its vendor and the reviewers."""
    solution = get_solution(session, principal, solution_id)
    permissions.require(
        permissions.can_read_listing_drafts(principal, solution.vendor_id),
        "A listing's history is for its vendor's members and the platform's reviewers.",
    )
    return events_of(session, KIND, solution_id, page)


# ============================================================================================ translations
# A listing's title, summary and description in other languages than its original (`original_language`).
# A read names the languages the caller wants (Accept-Language or ?lang=, most preferred first); each text
# field falls back: the first wanted language the listing has (RFC 4647 lookup: de-AT reaches de; no and nb
# reach each other), else the original. An empty translated summary or description is the original's.
# Writes: the listing's vendor and admins (can_edit_listing), in the statuses the listing itself may be
# edited in; a human translation is never replaced by a machine one (409).

Localized = SolutionOut | SolutionDetailOut


def translations_by_solution(session: Session, solution_ids: Iterable[int]) -> dict[int, list[SolutionTranslation]]:
    ids = set(solution_ids)
    found: dict[int, list[SolutionTranslation]] = defaultdict(list)
    if ids:
        for row in session.exec(select(SolutionTranslation).where(col(SolutionTranslation.solution_id).in_(ids))).all():
            found[row.solution_id].append(row)
    return found


_T = TypeVar("_T", bound=SolutionBaseOut)


def localize(outs: Sequence[_T], wanted: Sequence[str], translations: dict[int, list[SolutionTranslation]]) -> list[_T]:
    """Each output in the caller's language where a translation reaches it (one statement for the page)."""
    if not wanted:
        return list(outs)
    localized = []
    for out in outs:
        available = {t.language: t for t in translations.get(out.id, [])}
        chosen = negotiate(wanted, [out.original_language, *available])
        translation = available.get(chosen) if chosen is not None else None
        if translation is None:
            localized.append(out)
            continue
        languages = {
            name: translation.language if getattr(translation, name) else out.original_language for name in TEXT_FIELDS
        }
        texts = {
            name: getattr(translation if languages[name] == translation.language else out, name) for name in TEXT_FIELDS
        }
        localized.append(
            out.model_copy(
                update={
                    **texts,
                    "language": translation.language,
                    "field_languages": FieldLanguagesOut(**languages),
                }
            )
        )
    return localized


def localize_in(session: Session, outs: Sequence[Localized], wanted: Sequence[str]) -> list[Localized]:
    if not wanted:
        return list(outs)
    return localize(outs, wanted, translations_by_solution(session, [o.id for o in outs]))


def list_translations(session: Session, principal: Principal, solution_id: int) -> list[SolutionTranslationOut]:
    get_solution(session, principal, solution_id)  # 404 when the caller may not see the listing
    rows = translations_by_solution(session, [solution_id]).get(solution_id, [])
    return [SolutionTranslationOut.from_model(r) for r in sorted(rows, key=lambda r: r.language)]


def put_translation(
    session: Session, principal: Principal, solution_id: int, language: str, body: SolutionTranslationIn
) -> tuple[SolutionTranslationOut, bool]:
    """Create or replace the listing's translation into `language`; True when it was created."""
    tag = language_tag(language, "path.lang")
    solution = session.exec(select(Solution).where(Solution.id == solution_id)).first()
    if solution is None or not can_see(principal, solution):
        raise NotFound(_NOT_FOUND.format(id=solution_id))
    _require_vendor_right(principal, solution)
    lifecycle.check_editable(principal, solution.status, solution.vendor_id)
    if tag.lower() == solution.original_language.lower():
        raise Conflict(
            f"The listing is written in {solution.original_language}: edit it with PATCH /api/v1/solutions/"
            f"{solution_id}, not as a translation."
        )
    row = session.exec(
        select(SolutionTranslation).where(
            SolutionTranslation.solution_id == solution_id, sa.func.lower(SolutionTranslation.language) == tag.lower()
        )
    ).first()
    if row is not None and row.origin == TranslationOrigin.human and body.origin == TranslationOrigin.machine:
        raise Conflict(
            f"The {tag} translation of listing {solution_id} was written by a person; a machine translation "
            "never replaces it. Send origin=human to replace it yourself."
        )
    fields: dict[str, Any] = {
        "title": body.title,
        "summary": body.summary,
        "description": body.description,
        "origin": body.origin,
    }
    created = row is None
    before: dict[str, Any] = {}
    if row is None:
        row = SolutionTranslation(
            solution_id=solution_id,
            language=tag,
            title=body.title,
            summary=body.summary,
            description=body.description,
            origin=body.origin,
        )
        session.add(row)
    else:
        before = {name: getattr(row, name) for name in fields}
        for name, value in fields.items():
            setattr(row, name, value)
        row.version += 1
        row.updated_at = utcnow()
    changes = diff(before, fields)
    if changes:
        record(
            session,
            principal,
            "solution.translation.put",
            KIND,
            solution_id,
            {"language": tag, **{k: {"from": v["from"], "to": str(v["to"])} for k, v in changes.items()}},
        )
    session.flush()
    return SolutionTranslationOut.from_model(row), created
