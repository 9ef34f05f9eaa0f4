"""Reading case studies: only published ones are public; the solutions they link obey listing visibility."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import Session, col, select

from app.auth import permissions
from app.auth.principal import Principal
from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution, ContentStatus
from app.case_studies.schemas import CaseStudyDetailOut, CaseStudyOut, OutcomeOut
from app.cities.models import City
from app.core.errors import NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.kpis.models import Kpi
from app.solutions import service as solutions
from app.solutions.models import Solution
from app.solutions.schemas import SolutionRefOut


class CaseStudySort(StrEnum):
    # Member names equal the values, so GraphQL shows the same words as REST.
    alphabetical = "alphabetical"  # by title
    newest = "newest"


@dataclass(frozen=True)
class CaseStudyFilters:
    city: int | None = None
    country: str | None = None
    solution: int | None = None
    kpi: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    language: str | None = None
    demo: bool | None = None


def can_read_unpublished(principal: Principal) -> bool:
    """Editorial content (case studies, guidelines) is the platform's: its reviewers see the drafts."""
    return permissions.can_review_listings(principal)


def list_case_studies(
    session: Session,
    principal: Principal,
    filters: CaseStudyFilters,
    page: PageRequest,
    sort: CaseStudySort = CaseStudySort.alphabetical,
) -> PageResult[CaseStudy]:
    statement = select(CaseStudy).options(selectinload(CaseStudy.city))  # type: ignore[arg-type]
    if not can_read_unpublished(principal):
        statement = statement.where(col(CaseStudy.status) == ContentStatus.published)
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
    if case is None or (case.status != ContentStatus.published and not can_read_unpublished(principal)):
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
