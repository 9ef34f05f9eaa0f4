"""GraphQL face of matches: the same service functions and output schemas as REST."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel import Session
from strawberry.scalars import JSON

from app.audit.context import current_request_id
from app.auth.deps import require_token
from app.auth.principal import Principal
from app.core.errors import InvalidInput
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.mutations import (
    IdempotencyKeyArg,
    MutationError,
    create_once,
    pydantic_input,
    run_mutation,
    validated,
)
from app.graphql.relay import Connection, page_request
from app.matches import schemas, service
from app.matches.models import MatchKind
from app.matches.router import router as rest

MatchScopeEnum = strawberry.enum(schemas.MatchScope, name="MatchScope")
LeadScopeEnum = strawberry.enum(schemas.LeadScope, name="LeadScope")
MatchIncludeEnum = strawberry.enum(schemas.MatchInclude, name="MatchInclude")
MAX_LIMIT = 100


@strawberry.experimental.pydantic.type(model=schemas.CityRef, all_fields=True)
class MatchCity:
    pass


@strawberry.experimental.pydantic.type(model=schemas.VendorRef, all_fields=True)
class MatchVendor:
    pass


@strawberry.experimental.pydantic.type(model=schemas.SolutionRef, all_fields=True)
class MatchSolution:
    pass


@strawberry.experimental.pydantic.type(model=schemas.EffectEstimate, all_fields=True)
class EffectEstimate:
    pass


@strawberry.experimental.pydantic.type(model=schemas.KpiReason, all_fields=True)
class KpiReason:
    pass


@strawberry.experimental.pydantic.type(model=schemas.EvidenceItem, all_fields=True)
class EvidenceItem:
    pass


@strawberry.experimental.pydantic.type(model=schemas.SimilarCitiesReason, all_fields=True)
class SimilarCitiesReason:
    pass


@strawberry.experimental.pydantic.type(model=schemas.RelevanceReasons, all_fields=True)
class RelevanceReasons:
    pass


@strawberry.experimental.pydantic.type(model=schemas.SolutionMatchOut, all_fields=True)
class SolutionMatch:
    pass


@strawberry.experimental.pydantic.type(model=schemas.MissingKpi, all_fields=True)
class MissingKpi:
    pass


@strawberry.experimental.pydantic.type(model=schemas.UnmeasuredKpi, all_fields=True)
class UnmeasuredKpi:
    pass


@strawberry.experimental.pydantic.type(model=schemas.UnmeasuredMatchOut, all_fields=True)
class UnmeasuredMatch:
    pass


@strawberry.experimental.pydantic.type(model=schemas.MatchConfidence, all_fields=True)
class MatchConfidence:
    pass


@strawberry.experimental.pydantic.type(model=schemas.SolutionMatchesOut, all_fields=True)
class SolutionMatches:
    pass


@strawberry.experimental.pydantic.type(model=schemas.CityLeadOut, all_fields=True)
class CityLead:
    pass


@strawberry.experimental.pydantic.type(model=schemas.CityLeadsOut, all_fields=True)
class CityLeads:
    pass


@strawberry.experimental.pydantic.type(model=schemas.TwinKpiOut, all_fields=True)
class TwinKpi:
    pass


@strawberry.experimental.pydantic.type(model=schemas.ComplementarityOut, all_fields=True)
class Complementarity:
    pass


@strawberry.experimental.pydantic.type(model=schemas.SharedCategoryOut, all_fields=True)
class SharedCategory:
    pass


@strawberry.experimental.pydantic.type(model=schemas.SharedChallengesOut, all_fields=True)
class SharedChallenges:
    pass


@strawberry.experimental.pydantic.type(model=schemas.ContextPartOut, all_fields=True)
class ContextPart:
    pass


@strawberry.experimental.pydantic.type(model=schemas.ContextOut, all_fields=True)
class MatchContext:
    pass


@strawberry.experimental.pydantic.type(model=schemas.TwinMatchOut, all_fields=True)
class TwinMatch:
    pass


@strawberry.experimental.pydantic.type(model=schemas.TwinMatchesOut, all_fields=True)
class TwinMatches:
    pass


MatchKindEnum = strawberry.enum(MatchKind, name="MatchKind")


@strawberry.experimental.pydantic.type(model=schemas.MatchRunSummaryOut, all_fields=True)
class MatchRunSummary:
    parameters: JSON


@strawberry.experimental.pydantic.type(model=schemas.MatchRunOut, all_fields=True)
class MatchRun:
    parameters: JSON
    weights: JSON
    inputs: JSON
    ranking: JSON


def _authenticated(info: strawberry.Info[Context, None]) -> Principal:
    """What REST's AuthenticatedDep checks before the service: a token (401 there, UNAUTHENTICATED here)."""
    return require_token(info.context.principal)


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"`limit` must be between 1 and {MAX_LIMIT}, got {limit}.")
    return limit


@strawberry.type
class MatchQueries:
    @strawberry.field(description="Published solutions for a city's weakest KPIs (GET .../solution-matches).")
    async def solution_matches(
        self,
        info: strawberry.Info[Context, None],
        city_id: int,
        limit: int = 20,
        scope: schemas.MatchScope | None = None,
        hub: int | None = None,
        category: str | None = None,
        language: str | None = None,
        include: list[schemas.MatchInclude] | None = None,
    ) -> SolutionMatches:
        principal, settings, n = info.context.principal, info.context.settings, _limit(limit)
        extra = frozenset(include or ())
        out = await info.context.run_db(
            lambda s: service.solution_matches(
                s,
                principal,
                settings,
                city_id,
                limit=n,
                scope=scope,
                hub=hub,
                category=category,
                language=language,
                include=extra,
            )
        )
        return SolutionMatches.from_pydantic(out)

    @strawberry.field(description="Cities with public data that need a solution most (GET .../city-matches).")
    async def city_matches(
        self,
        info: strawberry.Info[Context, None],
        solution_id: int,
        limit: int = 20,
        scope: schemas.LeadScope = schemas.LeadScope.offered,
    ) -> CityLeads:
        principal, settings, n = info.context.principal, info.context.settings, _limit(limit)
        out = await info.context.run_db(
            lambda s: service.solution_leads(s, principal, settings, solution_id, limit=n, scope=scope)
        )
        return CityLeads.from_pydantic(out)

    @strawberry.field(description="Twin-city partners with their reasons (GET .../twin-matches).")
    async def twin_matches(self, info: strawberry.Info[Context, None], city_id: int, limit: int = 20) -> TwinMatches:
        principal, settings, n = info.context.principal, info.context.settings, _limit(limit)
        out = await info.context.run_db(lambda s: service.twin_matches(s, principal, settings, city_id, limit=n))
        return TwinMatches.from_pydantic(out)

    @strawberry.field(
        description="The city's saved match runs, newest first (GET /api/v1/cities/{id}/match-runs; a token, and "
        "who may read the city's private data)."
    )
    async def match_runs(
        self,
        info: strawberry.Info[Context, None],
        city_id: int,
        kind: MatchKind | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[MatchRunSummary]:
        principal = _authenticated(info)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_match_runs(s, principal, city_id, page, kind))
        return Connection[MatchRunSummary].from_page(
            result, lambda r: MatchRunSummary.from_pydantic(service.run_summary(r))
        )

    @strawberry.field(
        description="A saved match run: the same ranking as when it was saved (GET "
        "/api/v1/cities/{id}/match-runs/{runId}; a token, and who may read the city's private data)."
    )
    async def match_run(self, info: strawberry.Info[Context, None], city_id: int, run_id: int) -> MatchRun:
        principal = _authenticated(info)
        out = await info.context.run_db(lambda s: service.get_match_run(s, principal, city_id, run_id))
        return MatchRun.from_pydantic(out)


# ================================================================================================ mutations


@pydantic_input(schemas.MatchRunIn)
class MatchRunInput:
    pass


MatchRunResult = Annotated[MatchRun | MutationError, strawberry.union("MatchRunResult")]


@strawberry.type
class MatchMutations:
    @strawberry.mutation(
        description="Save a match run: its inputs and ranking, frozen (POST /api/v1/cities/{id}/match-runs; "
        "who may read the city's private data)."
    )
    async def save_match_run(
        self,
        info: strawberry.Info[Context, None],
        city_id: int,
        input: MatchRunInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> MatchRunResult:
        principal, settings = info.context.principal, info.context.settings

        def work(session: Session) -> MatchRun:
            body = validated(schemas.MatchRunIn, input)

            def create() -> tuple[schemas.MatchRunOut, str]:
                out = service.create_match_run(
                    session, principal, settings, city_id, body, request_id=current_request_id()
                )
                return out, path_of(rest, "get_match_run", city_id=city_id, run_id=out.id)

            path = path_of(rest, "create_match_run", city_id=city_id)
            made = create_once(session, info.context, idempotency_key, path, body, create)
            if made.created is None:  # a replay: the run the first call saved (frozen, so as it was)
                return MatchRun.from_pydantic(service.get_match_run(session, principal, city_id, made.id))
            return MatchRun.from_pydantic(made.created)

        return await run_mutation(info, work)
