"""GraphQL face of case studies: the same service functions and output schemas as REST."""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

from typing import Annotated

import strawberry
from sqlmodel import Session

from app.auth.principal import Scope
from app.case_studies import service
from app.case_studies.lifecycle import EditorialAction
from app.case_studies.models import CaseStudy as CaseStudyRow
from app.case_studies.models import CaseStudyOutcome as OutcomeRow
from app.case_studies.models import ContentStatus
from app.case_studies.router import router as rest
from app.case_studies.schemas import (
    CaseStudyBaseOut,
    CaseStudyCreateIn,
    CaseStudyDetailOut,
    CaseStudyFilters,
    CaseStudyUpdateIn,
    OutcomeIn,
    OutcomeOut,
)
from app.cities.graphql import City
from app.core.pagination import PageResult
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.languages import FieldLanguage, LangArg, wanted
from app.graphql.loaders import get_loaders
from app.graphql.mutations import (
    IdempotencyKeyArg,
    MutationError,
    create_once,
    pydantic_input,
    run_mutation,
    validated,
    validated_arguments,
)
from app.graphql.relay import Connection, page_request
from app.kpis.graphql import Kpi
from app.solutions.graphql import Solution, resolve_city, resolve_kpis, to_solution
from app.translations.models import TranslatableKind
from app.translations.service import localize_rows

ContentStatusEnum = strawberry.enum(ContentStatus)
CaseStudySortEnum = strawberry.enum(service.CaseStudySort, name="CaseStudySort")


@strawberry.experimental.pydantic.type(model=OutcomeOut, description="A KPI measured before and after.")
class CaseStudyOutcome:
    data_point: strawberry.auto
    value_before: strawberry.auto
    value_after: strawberry.auto
    year_before: strawberry.auto
    year_after: strawberry.auto
    note: strawberry.auto
    kpi_id: strawberry.Private[int]

    @strawberry.field
    async def kpi(self, info: strawberry.Info[Context, None]) -> Kpi:
        return (await resolve_kpis(info, [self.kpi_id]))[0]


def to_outcome(outcome: OutcomeRow) -> CaseStudyOutcome:
    return CaseStudyOutcome.from_pydantic(OutcomeOut.from_model(outcome), extra={"kpi_id": outcome.kpi_id})


@strawberry.experimental.pydantic.type(model=CaseStudyBaseOut, all_fields=True)
class CaseStudy:
    id: int
    city_id: int | None

    @strawberry.field(description="Null when the source does not say where it ran.")
    async def city(self, info: strawberry.Info[Context, None]) -> City | None:
        return await resolve_city(info, self.city_id) if self.city_id is not None else None

    @strawberry.field(description="The KPIs it measured before and after, in KPI code order.")
    async def outcomes(self, info: strawberry.Info[Context, None]) -> list[CaseStudyOutcome]:
        return [to_outcome(o) for o in await get_loaders(info.context).case_study_outcomes.load(self.id)]

    @strawberry.field(description="The solutions it used that you may see, by title.")
    async def solutions(self, info: strawberry.Info[Context, None]) -> list[Solution]:
        return [to_solution(s) for s in await get_loaders(info.context).case_study_solutions.load(self.id)]


_REGISTERED = (FieldLanguage,)  # the type fieldLanguages lists, registered before CaseStudy
KIND = TranslatableKind.case_study


def to_case_study(case: CaseStudyRow, out: CaseStudyBaseOut | None = None) -> CaseStudy:
    return CaseStudy.from_pydantic(out or CaseStudyBaseOut.from_model(case))


@strawberry.type
class CaseStudyQueries:
    @strawberry.field(description="The published case studies; filters as in GET /api/v1/case-studies.")
    async def case_studies(
        self,
        info: strawberry.Info[Context, None],
        city: int | None = None,
        country: str | None = None,
        solution: int | None = None,
        kpi: str | None = None,
        year_from: int | None = None,
        year_to: int | None = None,
        language: str | None = None,
        demo: bool | None = None,
        sort: service.CaseStudySort = service.CaseStudySort.alphabetical,
        first: int = 20,
        after: str | None = None,
        lang: LangArg = None,
    ) -> Connection[CaseStudy]:
        filters = validated_arguments(
            CaseStudyFilters,
            city=city,
            country=country,
            solution=solution,
            kpi=kpi,
            year_from=year_from,
            year_to=year_to,
            language=language,
            demo=demo,
        )
        page = page_request(first, after)
        principal = info.context.principal
        languages = wanted(lang)

        def read(session: Session) -> PageResult[tuple[CaseStudyRow, CaseStudyBaseOut]]:
            result = service.list_case_studies(session, principal, filters, page, sort)
            items = localize_rows(session, KIND, result.items, CaseStudyBaseOut.from_model, languages)
            return PageResult(items, result.total, result.next_cursor, result.cursors, result.has_previous)

        return Connection[CaseStudy].from_page(await info.context.run_db(read), lambda pair: to_case_study(*pair))

    @strawberry.field(description="One case study (the same id as in REST).")
    async def case_study(self, info: strawberry.Info[Context, None], id: int, lang: LangArg = None) -> CaseStudy:
        principal = info.context.principal
        languages = wanted(lang)

        def read(session: Session) -> tuple[CaseStudyRow, CaseStudyBaseOut]:
            case = service.get_case_study(session, principal, id)
            return localize_rows(session, KIND, [case], CaseStudyBaseOut.from_model, languages)[0]

        return to_case_study(*await info.context.run_db(read))


# ================================================================================================ mutations
# The REST writes of app/case_studies/router.py (the platform's editors), through the same services.


@pydantic_input(OutcomeIn)
class CaseStudyOutcomeInput:
    pass


@pydantic_input(CaseStudyCreateIn)
class CaseStudyCreateInput:
    pass


@pydantic_input(CaseStudyUpdateIn, partial=True)
class CaseStudyUpdateInput:
    pass


CaseStudyResult = Annotated[CaseStudy | MutationError, strawberry.union("CaseStudyResult")]
VersionArg = Annotated[int, strawberry.argument(description="The version you last read (REST's If-Match).")]
EDITOR = (Scope.admin,)


async def _case_study_move(
    info: strawberry.Info[Context, None], id: int, expected_version: int, action: EditorialAction
) -> CaseStudy | MutationError:
    principal = info.context.principal

    def work(session: Session) -> CaseStudy:
        out = service.transition_case_study(session, principal, id, action, lambda: expected_version)
        return CaseStudy.from_pydantic(out)

    return await run_mutation(info, work, root=None, scopes=EDITOR)


@strawberry.type
class CaseStudyMutations:
    @strawberry.mutation(description="Write a case study, as a draft (editors).")
    async def create_case_study(
        self,
        info: strawberry.Info[Context, None],
        input: CaseStudyCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> CaseStudyResult:
        principal = info.context.principal

        def work(session: Session) -> CaseStudy:
            body = validated(CaseStudyCreateIn, input)

            def create() -> tuple[CaseStudyDetailOut, str]:
                out = service.create_case_study(session, principal, body)
                return out, path_of(rest, "get_case_study", case_study_id=out.id)

            made = create_once(session, info.context, idempotency_key, path_of(rest, "create_case_study"), body, create)
            if made.created is None:  # a replay: the case study the first call wrote, as it is now
                return to_case_study(service.get_case_study(session, principal, made.id))
            return CaseStudy.from_pydantic(made.created)

        return await run_mutation(info, work, scopes=EDITOR)

    @strawberry.mutation(description="Edit a case study: only the fields given change; lists replace the whole set.")
    async def update_case_study(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, input: CaseStudyUpdateInput
    ) -> CaseStudyResult:
        principal = info.context.principal

        def work(session: Session) -> CaseStudy:
            body = validated(CaseStudyUpdateIn, input)
            out = service.update_case_study(session, principal, id, body, lambda: expected_version)
            return CaseStudy.from_pydantic(out)

        return await run_mutation(info, work, scopes=EDITOR)

    @strawberry.mutation(description="Publish a draft or archived case study (editors).")
    async def publish_case_study(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg
    ) -> CaseStudyResult:
        return await _case_study_move(info, id, expected_version, EditorialAction.publish)

    @strawberry.mutation(description="Archive a draft or published case study (editors).")
    async def archive_case_study(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg
    ) -> CaseStudyResult:
        return await _case_study_move(info, id, expected_version, EditorialAction.archive)
