"""Case studies: reading (only published ones are public; the solutions they link obey listing visibility), and
writing (the platform's editors: create, edit, publish, archive)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import Session, col, select

from app.audit.service import diff, record
from app.auth import permissions
from app.auth.permissions import can_read_unpublished_content
from app.auth.principal import Principal
from app.case_studies.lifecycle import EditorialAction, editorial_transition
from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution, ContentStatus
from app.case_studies.schemas import (
    CaseStudyContentIn,
    CaseStudyCreateIn,
    CaseStudyDetailOut,
    CaseStudyOut,
    CaseStudyUpdateIn,
    OutcomeOut,
)
from app.case_studies.schemas import (
    CaseStudyFilters as CaseStudyFilters,  # re-exported: the filters the list functions take
)
from app.cities.models import City
from app.core.concurrency import ExpectedVersion, claim_version, lock_for_write
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.core.slugs import free_slug
from app.kpis.models import Kpi
from app.kpis.service import data_point_by_key, data_point_keys, kpis_by_reference
from app.moderation.models import ContentKind
from app.moderation.visibility import hidden_filter, hidden_from
from app.solutions import service as solutions
from app.solutions.models import EvidenceLevel, Solution, SolutionKpiImpact
from app.solutions.schemas import SolutionRefOut
from app.translations.models import TranslatableKind
from app.translations.service import Target


class CaseStudySort(StrEnum):
    # Member names equal the values, so GraphQL shows the same words as REST.
    alphabetical = "alphabetical"  # by title
    newest = "newest"


def list_case_studies(
    session: Session,
    principal: Principal,
    filters: CaseStudyFilters,
    page: PageRequest,
    sort: CaseStudySort = CaseStudySort.alphabetical,
    *,
    ids: tuple[int, ...] | None = None,
) -> PageResult[CaseStudy]:
    """`ids`: only these case studies (the notifier matches saved alerts on new ones with the filters of the
    list; not a query parameter of its own)."""
    statement = select(CaseStudy).options(selectinload(CaseStudy.city))  # type: ignore[arg-type]
    if not can_read_unpublished_content(principal):
        statement = statement.where(col(CaseStudy.status) == ContentStatus.published)
    # Hidden pending review (app/moderation): its moderators' only (admins, curators of its city's country).
    shown = hidden_filter(principal, ContentKind.case_study, col(CaseStudy.id))
    if shown is not None:
        statement = statement.where(shown)
    if ids is not None:
        statement = statement.where(col(CaseStudy.id).in_(ids))
    if filters.city is not None:
        statement = statement.where(col(CaseStudy.city_id) == filters.city)
    if filters.country:
        in_country = select(City.id).where(col(City.country_code) == filters.country.upper())
        statement = statement.where(col(CaseStudy.city_id).in_(in_country))
    if filters.solution is not None:
        # Only through a listing the caller may see: a draft's case studies do not reveal the draft.
        linked = (
            select(CaseStudySolution.case_study_id)
            .join(Solution, col(Solution.id) == CaseStudySolution.solution_id)
            .where(CaseStudySolution.solution_id == filters.solution)
        )
        visible = solutions.listing_visibility(principal)
        if visible is not None:
            linked = linked.where(visible)
        statement = statement.where(col(CaseStudy.id).in_(linked))
    if filters.kpi:
        measured = select(CaseStudyOutcome.case_study_id).where(
            col(CaseStudyOutcome.kpi_id) == solutions.kpi_id_for(filters.kpi)
        )
        statement = statement.where(col(CaseStudy.id).in_(measured))
    if filters.year_from is not None:
        statement = statement.where(col(CaseStudy.year) >= filters.year_from)
    if filters.year_to is not None:
        statement = statement.where(col(CaseStudy.year) <= filters.year_to)
    if filters.language:
        statement = statement.where(sa.func.lower(CaseStudy.language) == filters.language.lower())
    if filters.demo is not None:
        statement = statement.where(col(CaseStudy.is_demo) == filters.demo)
    if sort is CaseStudySort.newest:
        # Ids grow with insertion; a datetime would not survive the cursor (see app.core.pagination).
        keys = [SortKey(CaseStudy.id, descending=True)]  # type: ignore[arg-type]
    else:
        keys = [SortKey(CaseStudy.title), SortKey(CaseStudy.id)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_case_study(session: Session, principal: Principal, case_study_id: int) -> CaseStudy:
    statement = select(CaseStudy).where(CaseStudy.id == case_study_id).options(selectinload(CaseStudy.city))  # type: ignore[arg-type]
    case = session.exec(statement).first()
    if (
        case is None
        or (case.status != ContentStatus.published and not can_read_unpublished_content(principal))
        or hidden_from(session, principal, ContentKind.case_study, case_study_id)
    ):
        raise NotFound(f"No case study with id {case_study_id}. GET /api/v1/case-studies lists them.")
    return case


def outcomes_by_case_study(session: Session, case_study_ids: Iterable[int]) -> dict[int, list[CaseStudyOutcome]]:
    """Each case study's outcomes in KPI code order, with their KPI and data point (one statement)."""
    statement = (
        select(CaseStudyOutcome)
        .join(Kpi, col(Kpi.id) == CaseStudyOutcome.kpi_id)
        .where(col(CaseStudyOutcome.case_study_id).in_(set(case_study_ids)))
        .options(
            joinedload(CaseStudyOutcome.kpi, innerjoin=True),  # type: ignore[arg-type]
            joinedload(CaseStudyOutcome.data_point),  # type: ignore[arg-type]
        )
        .order_by(col(Kpi.code), col(CaseStudyOutcome.id))
    )
    found: dict[int, list[CaseStudyOutcome]] = defaultdict(list)
    for outcome in session.exec(statement).unique().all():
        found[outcome.case_study_id].append(outcome)
    return found


def solutions_by_case_study(
    session: Session, principal: Principal, case_study_ids: Iterable[int]
) -> dict[int, list[Solution]]:
    """The listings each case study used, among those `principal` may see, by title."""
    links = session.exec(
        select(CaseStudySolution).where(col(CaseStudySolution.case_study_id).in_(set(case_study_ids)))
    ).all()
    visible = solutions.solutions_by_id(session, principal, {link.solution_id for link in links})
    found: dict[int, list[Solution]] = defaultdict(list)
    for link in links:
        if link.solution_id in visible:
            found[link.case_study_id].append(visible[link.solution_id])
    for listed in found.values():
        listed.sort(key=lambda s: (s.title, s.id or 0))
    return found


def get_case_study_detail(session: Session, principal: Principal, case_study_id: int) -> CaseStudyDetailOut:
    case = get_case_study(session, principal, case_study_id)
    outcomes = outcomes_by_case_study(session, [case_study_id])[case_study_id]
    linked = solutions_by_case_study(session, principal, [case_study_id])[case_study_id]
    return CaseStudyDetailOut(
        **CaseStudyOut.from_model(case).model_dump(),
        outcomes=[OutcomeOut.from_model(o) for o in outcomes],
        solutions=[SolutionRefOut.from_model(s) for s in linked],
    )


# ================================================================================================== writes
# Editorial content (case studies here, procurement guidelines in app.guidelines) is written by the platform's
# editors (admins): create as draft, edit, publish, archive. Only published content is public and searchable.

KIND = "case_study"


def _error(field: str, message: str, type_: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": type_}


@dataclass(frozen=True)
class OutcomeSpec:
    kpi_id: int
    data_point_id: int | None
    value_before: float
    value_after: float
    year_before: int | None
    year_after: int | None
    note: str


def _load_for_write(session: Session, principal: Principal, case_study_id: int) -> CaseStudy:
    case = session.exec(
        select(CaseStudy)
        .where(CaseStudy.id == case_study_id)
        .options(
            selectinload(CaseStudy.solutions),  # type: ignore[arg-type]
            selectinload(CaseStudy.outcomes).joinedload(CaseStudyOutcome.kpi),  # type: ignore[arg-type]
            selectinload(CaseStudy.outcomes).joinedload(CaseStudyOutcome.data_point),  # type: ignore[arg-type]
        )
        .execution_options(populate_existing=True)
    ).first()
    if (
        case is None
        or (case.status != ContentStatus.published and not can_read_unpublished_content(principal))
        or hidden_from(session, principal, ContentKind.case_study, case_study_id)
    ):
        raise NotFound(f"No case study with id {case_study_id}. GET /api/v1/case-studies lists them.")
    permissions.require(
        permissions.can_edit_editorial_content(principal),
        "Only the platform's editors (admins) may change case studies.",
    )
    return case


def snapshot(case: CaseStudy) -> dict[str, Any]:
    return {
        **{name: getattr(case, name) for name in SCALAR_FIELDS},
        "outcomes": sorted(
            (
                {
                    "kpi": o.kpi.slug,
                    "data_point": o.data_point.key if o.data_point is not None else "",
                    "value_before": o.value_before,
                    "value_after": o.value_after,
                    "year_before": o.year_before,
                    "year_after": o.year_after,
                    "note": o.note,
                }
                for o in case.outcomes
            ),
            key=lambda d: (str(d["kpi"]), str(d["data_point"])),
        ),
        "solution_ids": sorted(link.solution_id for link in case.solutions),
    }


SCALAR_FIELDS = ("title", "city_id", "summary", "body", "year", "language", "source", "source_url")


def _validate(session: Session, body: CaseStudyContentIn) -> tuple[dict[str, Any], list[OutcomeSpec] | None]:
    given = body.model_fields_set
    errors: list[dict[str, str]] = []
    scalars = {name: getattr(body, name) for name in SCALAR_FIELDS if name in given}
    if "title" in scalars and not scalars["title"].strip():
        errors.append(_error("body.title", "must not be blank", "blank"))
    if "language" in scalars:
        scalars["language"] = scalars["language"].lower()
    if scalars.get("city_id") is not None and session.get(City, scalars["city_id"]) is None:
        errors.append(_error("body.city_id", f"no city with id {scalars['city_id']}", "unknown_city"))
    outcomes: list[OutcomeSpec] | None = None
    if body.outcomes is not None:
        outcomes = []
        kpis = kpis_by_reference(session, {o.kpi for o in body.outcomes})
        seen: set[tuple[int, int | None]] = set()
        for n, outcome in enumerate(body.outcomes):
            kpi = kpis.get(outcome.kpi)
            if kpi is None:
                errors.append(
                    _error(f"body.outcomes.{n}.kpi", f"no KPI with slug or code {outcome.kpi!r}", "unknown_kpi")
                )
                continue
            data_point = data_point_by_key(kpi, outcome.data_point)
            if data_point is None:
                keys = ", ".join(repr(k) for k in data_point_keys(kpi))
                errors.append(
                    _error(
                        f"body.outcomes.{n}.data_point",
                        f"KPI {kpi.slug} has no data point {outcome.data_point!r}; its data points are {keys}",
                        "unknown_data_point",
                    )
                )
                continue
            key = (kpi.id or 0, data_point.id if data_point.key else None)
            if key in seen:
                errors.append(
                    _error(f"body.outcomes.{n}", f"KPI {kpi.slug} {data_point.key!r} comes twice", "duplicate")
                )
                continue
            seen.add(key)
            outcomes.append(
                OutcomeSpec(
                    kpi_id=key[0],
                    data_point_id=key[1],
                    value_before=outcome.value_before,
                    value_after=outcome.value_after,
                    year_before=outcome.year_before,
                    year_after=outcome.year_after,
                    note=outcome.note,
                )
            )
    if body.solution_ids is not None:
        wanted = list(dict.fromkeys(body.solution_ids))
        known = set(session.exec(select(Solution.id).where(col(Solution.id).in_(wanted))).all())
        for n, solution_id in enumerate(body.solution_ids):
            if solution_id not in known:
                errors.append(
                    _error(f"body.solution_ids.{n}", f"no solution with id {solution_id}", "unknown_solution")
                )
    if errors:
        raise InvalidInput(
            "Invalid case study: "
            + ", ".join(e["field"] for e in errors)
            + ". "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
            errors=errors,
        )
    return scalars, outcomes


def _apply(case: CaseStudy, scalars: dict[str, Any], outcomes: list[OutcomeSpec] | None, solution_ids: Any) -> None:
    cid = case.id or 0
    for name, value in scalars.items():
        setattr(case, name, value)
    if outcomes is not None:
        present = {(o.kpi_id, o.data_point_id): o for o in case.outcomes}
        wanted = {(o.kpi_id, o.data_point_id): o for o in outcomes}
        for key, row in present.items():
            if key not in wanted:
                case.outcomes.remove(row)
        for key, spec in wanted.items():
            row = present.get(key) or CaseStudyOutcome(
                case_study_id=cid,
                kpi_id=spec.kpi_id,
                data_point_id=spec.data_point_id,
                value_before=spec.value_before,
                value_after=spec.value_after,
            )
            row.value_before, row.value_after = spec.value_before, spec.value_after
            row.year_before, row.year_after, row.note = spec.year_before, spec.year_after, spec.note
            if key not in present:
                case.outcomes.append(row)
    if solution_ids is not None:
        wanted_ids = list(dict.fromkeys(solution_ids))
        linked = {link.solution_id: link for link in case.solutions}
        for solution_id, link in linked.items():
            if solution_id not in wanted_ids:
                case.solutions.remove(link)
        for solution_id in wanted_ids:
            if solution_id not in linked:
                case.solutions.append(CaseStudySolution(case_study_id=cid, solution_id=solution_id))


def _check_backed_claims(session: Session, case: CaseStudy) -> None:
    """Verified impact claims resting on this case study must stay backed: it must still list their solution
    and measure their KPI (409 naming the claims otherwise)."""
    claims = session.exec(
        select(SolutionKpiImpact).where(
            SolutionKpiImpact.case_study_id == case.id, SolutionKpiImpact.evidence_level == EvidenceLevel.verified
        )
    ).all()
    solution_ids = {link.solution_id for link in case.solutions}
    kpi_ids = {o.kpi_id for o in case.outcomes}
    broken = [c for c in claims if c.solution_id not in solution_ids or c.kpi_id not in kpi_ids]
    if broken:
        raise Conflict(
            "Verified impact claims rest on this case study and would lose their evidence: "
            + ", ".join(f"solution {c.solution_id} on KPI id {c.kpi_id}" for c in broken)
            + ". Keep those solutions and outcomes, or have the vendors change the claims first.",
            extra={"claims": [{"solution_id": c.solution_id, "kpi_id": c.kpi_id} for c in broken]},
        )


def _detail_after_write(session: Session, principal: Principal, case_study_id: int) -> CaseStudyDetailOut:
    session.flush()
    session.expire_all()
    return get_case_study_detail(session, principal, case_study_id)


def create_case_study(session: Session, principal: Principal, body: CaseStudyCreateIn) -> CaseStudyDetailOut:
    lock_for_write(session)
    permissions.require(
        permissions.can_edit_editorial_content(principal),
        "Only the platform's editors (admins) may write case studies.",
    )
    scalars, outcomes = _validate(session, body)
    case = CaseStudy(
        slug=free_slug(session, col(CaseStudy.slug), body.title, max_length=160, fallback="case-study"),
        title=body.title,
        status=ContentStatus.draft,
        outcomes=[],
        solutions=[],
    )
    session.add(case)
    session.flush()
    _apply(case, scalars, outcomes or [], body.solution_ids or [])
    session.flush()
    record(session, principal, "case_study.create", KIND, case.id or 0, snapshot(_reload(session, case.id or 0)))
    return _detail_after_write(session, principal, case.id or 0)


def _reload(session: Session, case_study_id: int) -> CaseStudy:
    return session.exec(
        select(CaseStudy)
        .where(CaseStudy.id == case_study_id)
        .options(
            selectinload(CaseStudy.solutions),  # type: ignore[arg-type]
            selectinload(CaseStudy.outcomes).joinedload(CaseStudyOutcome.kpi),  # type: ignore[arg-type]
            selectinload(CaseStudy.outcomes).joinedload(CaseStudyOutcome.data_point),  # type: ignore[arg-type]
        )
        .execution_options(populate_existing=True)
    ).one()


def update_case_study(
    session: Session, principal: Principal, case_study_id: int, body: CaseStudyUpdateIn, expected: ExpectedVersion
) -> CaseStudyDetailOut:
    lock_for_write(session)
    case = _load_for_write(session, principal, case_study_id)
    case.version = claim_version(session, CaseStudy, case_study_id, expected())
    scalars, outcomes = _validate(session, body)
    before = snapshot(case)
    _apply(case, scalars, outcomes, body.solution_ids)
    session.flush()
    _check_backed_claims(session, case)
    changes = diff(before, snapshot(_reload(session, case_study_id)))
    if changes:
        record(session, principal, "case_study.update", KIND, case_study_id, changes)
    return _detail_after_write(session, principal, case_study_id)


def transition_case_study(
    session: Session, principal: Principal, case_study_id: int, action: EditorialAction, expected: ExpectedVersion
) -> CaseStudyDetailOut:
    lock_for_write(session)
    case = _load_for_write(session, principal, case_study_id)
    case.version = claim_version(session, CaseStudy, case_study_id, expected())
    target = editorial_transition("case study", case.status, action)
    changes = {"status": {"from": case.status.value, "to": target.value}}
    case.status = target
    record(session, principal, f"case_study.{action.value}", KIND, case_study_id, changes)
    return _detail_after_write(session, principal, case_study_id)


def translation_target(session: Session, principal: Principal, case_study_id: int) -> Target:
    """The case study as something `principal` may translate: the editors (as for every edit)."""
    case = _load_for_write(session, principal, case_study_id)
    return Target(
        TranslatableKind.case_study,
        case_study_id,
        case.language,
        KIND,
        f"PATCH /api/v1/case-studies/{case_study_id}",
    )
