"""GraphQL face of procurement guidelines: the same service functions and output schemas as REST."""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

from collections.abc import Callable
from typing import Annotated

import strawberry
from sqlmodel import Session

from app.auth.principal import Principal, Scope
from app.case_studies.lifecycle import EditorialAction
from app.core.pagination import PageResult
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.languages import FieldLanguage, LangArg, wanted
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
from app.guidelines import service
from app.guidelines.models import ProcurementGuideline as GuidelineRow
from app.guidelines.models import ProcurementStage
from app.guidelines.router import router as rest
from app.guidelines.schemas import (
    GuidelineBaseOut,
    GuidelineCreateIn,
    GuidelineFilters,
    GuidelineOut,
    GuidelineUpdateIn,
)
from app.kpis.graphql import Kpi
from app.solutions.graphql import resolve_kpis
from app.translations.models import TranslatableKind
from app.translations.service import localize_rows

_REGISTERED = (FieldLanguage,)  # the type fieldLanguages lists
KIND = TranslatableKind.guideline

ProcurementStageEnum = strawberry.enum(ProcurementStage)


@strawberry.experimental.pydantic.type(model=GuidelineBaseOut, all_fields=True)
class ProcurementGuideline:
    kpi_ids: strawberry.Private[list[int]]

    @strawberry.field(description="The KPIs it bears on, in KPI code order.")
    async def kpis(self, info: strawberry.Info[Context, None]) -> list[Kpi]:
        return await resolve_kpis(info, self.kpi_ids)


def to_guideline(guideline: GuidelineRow, out: GuidelineBaseOut | None = None) -> ProcurementGuideline:
    return ProcurementGuideline.from_pydantic(
        out or GuidelineBaseOut.from_model(guideline), extra={"kpi_ids": [k.kpi_id for k in guideline.kpis]}
    )


@strawberry.type
class GuidelineQueries:
    @strawberry.field(description="The published guidelines; filters as in GET /api/v1/procurement-guidelines.")
    async def procurement_guidelines(
        self,
        info: strawberry.Info[Context, None],
        stage: ProcurementStage | None = None,
        category: str | None = None,
        kpi: str | None = None,
        language: str | None = None,
        first: int = 20,
        after: str | None = None,
        lang: LangArg = None,
    ) -> Connection[ProcurementGuideline]:
        filters = validated_arguments(GuidelineFilters, stage=stage, category=category, kpi=kpi, language=language)
        page = page_request(first, after)
        principal = info.context.principal
        languages = wanted(lang)

        def read(session: Session) -> PageResult[tuple[GuidelineRow, GuidelineBaseOut]]:
            result = service.list_guidelines(session, principal, filters, page)
            items = localize_rows(session, KIND, result.items, GuidelineBaseOut.from_model, languages)
            return PageResult(items, result.total, result.next_cursor, result.cursors, result.has_previous)

        return Connection[ProcurementGuideline].from_page(
            await info.context.run_db(read), lambda pair: to_guideline(*pair)
        )

    @strawberry.field(description="One procurement guideline (the same id as in REST).")
    async def procurement_guideline(
        self, info: strawberry.Info[Context, None], id: int, lang: LangArg = None
    ) -> ProcurementGuideline:
        principal = info.context.principal
        languages = wanted(lang)

        def read(session: Session) -> tuple[GuidelineRow, GuidelineBaseOut]:
            guideline = service.get_guideline(session, principal, id)
            return localize_rows(session, KIND, [guideline], GuidelineBaseOut.from_model, languages)[0]

        return to_guideline(*await info.context.run_db(read))


# ================================================================================================ mutations
# The REST writes of app/guidelines/router.py (the platform's editors), through the same services.


@pydantic_input(GuidelineCreateIn)
class GuidelineCreateInput:
    pass


@pydantic_input(GuidelineUpdateIn, partial=True)
class GuidelineUpdateInput:
    pass


GuidelineResult = Annotated[ProcurementGuideline | MutationError, strawberry.union("GuidelineResult")]
VersionArg = Annotated[int, strawberry.argument(description="The version you last read (REST's If-Match).")]
EDITOR = (Scope.admin,)


async def _guideline_move(
    info: strawberry.Info[Context, None], id: int, expected_version: int, action: EditorialAction
) -> ProcurementGuideline | MutationError:
    principal = info.context.principal

    def work(session: Session) -> int:
        return service.transition_guideline(session, principal, id, action, lambda: expected_version).id

    return await run_mutation(info, work, then=_answer(principal), root=None, scopes=EDITOR)


def _answer(principal: Principal) -> Callable[[Session, int], ProcurementGuideline]:
    """The guideline as REST answers it, read after the commit (with its KPIs)."""

    def answer(session: Session, guideline_id: int) -> ProcurementGuideline:
        return to_guideline(service.get_guideline(session, principal, guideline_id))

    return answer


@strawberry.type
class GuidelineMutations:
    @strawberry.mutation(description="Write a procurement guideline, as a draft (editors).")
    async def create_procurement_guideline(
        self,
        info: strawberry.Info[Context, None],
        input: GuidelineCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> GuidelineResult:
        principal = info.context.principal

        def work(session: Session) -> int:
            body = validated(GuidelineCreateIn, input)

            def create() -> tuple[GuidelineOut, str]:
                out = service.create_guideline(session, principal, body)
                return out, path_of(rest, "get_guideline", guideline_id=out.id)

            # The id of the guideline created now, or by the first call of a replay: read after the commit.
            return create_once(
                session, info.context, idempotency_key, path_of(rest, "create_guideline"), body, create
            ).id

        return await run_mutation(info, work, then=_answer(principal), scopes=EDITOR)

    @strawberry.mutation(description="Edit a guideline: only the fields given change; lists replace the whole set.")
    async def update_procurement_guideline(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, input: GuidelineUpdateInput
    ) -> GuidelineResult:
        principal = info.context.principal

        def work(session: Session) -> int:
            body = validated(GuidelineUpdateIn, input)
            return service.update_guideline(session, principal, id, body, lambda: expected_version).id

        return await run_mutation(info, work, then=_answer(principal), scopes=EDITOR)

    @strawberry.mutation(description="Publish a draft or archived guideline (editors).")
    async def publish_procurement_guideline(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg
    ) -> GuidelineResult:
        return await _guideline_move(info, id, expected_version, EditorialAction.publish)

    @strawberry.mutation(description="Archive a draft or published guideline (editors).")
    async def archive_procurement_guideline(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg
    ) -> GuidelineResult:
        return await _guideline_move(info, id, expected_version, EditorialAction.archive)
