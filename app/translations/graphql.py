"""GraphQL face of translations (docs/architecture.md, "Languages"): one mutation per kind, each the REST
PUT's service call; inputs from the same per-kind input schemas, one answer type for every kind."""

# No `from __future__ import annotations` here: Strawberry reads the annotations of the mutations.

from typing import Annotated

import strawberry
from sqlmodel import Session

from app.auth.principal import Principal, Scope
from app.case_studies import service as case_studies
from app.challenges import service as challenges
from app.graphql.context import Context
from app.graphql.mutations import MutationError, pydantic_input, run_mutation, validated
from app.guidelines import service as guidelines
from app.kpis import service as kpis
from app.solutions.models import TranslationOrigin
from app.translations import service
from app.translations.models import TranslatableKind
from app.translations.schemas import (
    CaseStudyTranslationIn,
    ChallengeTranslationIn,
    GuidelineTranslationIn,
    KpiTranslationIn,
    TranslatedTextOut,
    TranslationInBase,
    TranslationOut,
)

TranslatableKindEnum = strawberry.enum(TranslatableKind, description="What a ContentTranslation translates")
if not hasattr(TranslationOrigin, "_enum_definition"):  # app.solutions.graphql registers it too
    strawberry.enum(TranslationOrigin)


@strawberry.experimental.pydantic.type(model=TranslatedTextOut, all_fields=True)
class TranslatedText:
    pass


@strawberry.experimental.pydantic.type(
    model=TranslationOut, all_fields=True, description="A case study's, guideline's, challenge's or KPI's translation"
)
class ContentTranslation:
    pass


@pydantic_input(CaseStudyTranslationIn)
class CaseStudyTranslationInput:
    pass


@pydantic_input(GuidelineTranslationIn)
class GuidelineTranslationInput:
    pass


@pydantic_input(ChallengeTranslationIn)
class ChallengeTranslationInput:
    pass


@pydantic_input(KpiTranslationIn)
class KpiTranslationInput:
    pass


TranslationResult = Annotated[ContentTranslation | MutationError, strawberry.union("TranslationResult")]
LangArg = Annotated[str, strawberry.argument(description="BCP 47 tag of the translation's language (de, nb, pt-BR)")]
_DOC = (
    "Create or replace the {what}'s translation into one language (PUT {path}): {who}; a machine translation "
    "never replaces a human one."
)


def _answer(
    session: Session,
    principal: Principal,
    target: service.Target,
    lang: str,
    model: type[TranslationInBase],
    input: object,
) -> ContentTranslation:
    body = validated(model, input)
    out, _created = service.put_translation(session, principal, target, lang, body)
    return ContentTranslation.from_pydantic(out)


@strawberry.type
class TranslationMutations:
    @strawberry.mutation(
        description=_DOC.format(
            what="case study", path="/api/v1/case-studies/{id}/translations/{lang}", who="the editors"
        )
    )
    async def put_case_study_translation(
        self, info: strawberry.Info[Context, None], id: int, lang: LangArg, input: CaseStudyTranslationInput
    ) -> TranslationResult:
        principal = info.context.principal

        def work(session: Session) -> ContentTranslation:
            target = case_studies.translation_target(session, principal, id)
            return _answer(session, principal, target, lang, CaseStudyTranslationIn, input)

        return await run_mutation(info, work, scopes=(Scope.admin,))

    @strawberry.mutation(
        description=_DOC.format(
            what="procurement guideline",
            path="/api/v1/procurement-guidelines/{id}/translations/{lang}",
            who="the editors",
        )
    )
    async def put_guideline_translation(
        self, info: strawberry.Info[Context, None], id: int, lang: LangArg, input: GuidelineTranslationInput
    ) -> TranslationResult:
        principal = info.context.principal

        def work(session: Session) -> ContentTranslation:
            target = guidelines.translation_target(session, principal, id)
            return _answer(session, principal, target, lang, GuidelineTranslationIn, input)

        return await run_mutation(info, work, scopes=(Scope.admin,))

    @strawberry.mutation(
        description=_DOC.format(
            what="challenge", path="/api/v1/challenges/{id}/translations/{lang}", who="its city's officials and admins"
        )
    )
    async def put_challenge_translation(
        self, info: strawberry.Info[Context, None], id: int, lang: LangArg, input: ChallengeTranslationInput
    ) -> TranslationResult:
        principal = info.context.principal

        def work(session: Session) -> ContentTranslation:
            target = challenges.translation_target(session, principal, id)
            return _answer(session, principal, target, lang, ChallengeTranslationIn, input)

        return await run_mutation(info, work, scopes=(Scope.challenges_write,))

    @strawberry.mutation(
        description=_DOC.format(what="KPI", path="/api/v1/kpis/{slug}/translations/{lang}", who="admins")
    )
    async def put_kpi_translation(
        self,
        info: strawberry.Info[Context, None],
        kpi: Annotated[str, strawberry.argument(description="The KPI's slug (EN-EN-AQ-1C) or official code.")],
        lang: LangArg,
        input: KpiTranslationInput,
    ) -> TranslationResult:
        principal = info.context.principal

        def work(session: Session) -> ContentTranslation:
            _kpi, target = kpis.translation_target(session, principal, kpi)
            return _answer(session, principal, target, lang, KpiTranslationIn, input)

        return await run_mutation(info, work, scopes=(Scope.admin,))
