"""GraphQL face of twinnings: the same service functions and output schemas as REST."""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

from typing import Annotated, Any

import strawberry
from sqlmodel import Session

from app.auth.actions import ActionFace
from app.auth.principal import Scope
from app.cities.graphql import City
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.mutations import (
    IdempotencyKeyArg,
    MutationError,
    create_once,
    generated_mutations,
    pydantic_input,
    run_mutation,
    validated,
    validated_arguments,
)
from app.graphql.relay import Connection, page_request
from app.kpis.graphql import Kpi
from app.solutions.graphql import resolve_city, resolve_kpis
from app.twinnings import service
from app.twinnings.lifecycle import FACES, TwinningAction
from app.twinnings.models import Twinning as TwinningRow
from app.twinnings.models import TwinningStatus
from app.twinnings.router import router as rest
from app.twinnings.schemas import TwinningActionIn, TwinningBaseOut, TwinningCreateIn, TwinningFilters, TwinningOut

TwinningStatusEnum = strawberry.enum(TwinningStatus)


@strawberry.experimental.pydantic.type(model=TwinningBaseOut, all_fields=True)
class Twinning:
    city_a_id: int
    city_b_id: int
    focus_kpi_ids: strawberry.Private[list[int]]

    @strawberry.field
    async def city_a(self, info: strawberry.Info[Context, None]) -> City:
        return await resolve_city(info, self.city_a_id)

    @strawberry.field
    async def city_b(self, info: strawberry.Info[Context, None]) -> City:
        return await resolve_city(info, self.city_b_id)

    @strawberry.field(description="In KPI code order.")
    async def focus_kpis(self, info: strawberry.Info[Context, None]) -> list[Kpi]:
        return await resolve_kpis(info, self.focus_kpi_ids)


def to_twinning(twinning: TwinningRow) -> Twinning:
    return Twinning.from_pydantic(
        TwinningBaseOut.from_model(twinning), extra={"focus_kpi_ids": [k.kpi_id for k in twinning.focus_kpis]}
    )


@strawberry.type
class TwinningQueries:
    @strawberry.field(description="Twinnings, newest proposals first; filters as in GET /api/v1/twinnings.")
    async def twinnings(
        self,
        info: strawberry.Info[Context, None],
        city: int | None = None,
        status: TwinningStatus | None = None,
        kpi: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Twinning]:
        filters = validated_arguments(TwinningFilters, city=city, status=status, kpi=kpi)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_twinnings(s, filters, page))
        return Connection[Twinning].from_page(result, to_twinning)

    @strawberry.field(description="One twinning (the same id as in REST).")
    async def twinning(self, info: strawberry.Info[Context, None], id: int) -> Twinning:
        return to_twinning(await info.context.run_db(lambda s: service.get_twinning(s, id)))


# ================================================================================================ mutations
# The REST writes of app/twinnings/router.py, through the same services.


@pydantic_input(TwinningCreateIn)
class TwinningCreateInput:
    pass


TwinningResult = Annotated[Twinning | MutationError, strawberry.union("TwinningResult")]
VersionArg = Annotated[int, strawberry.argument(description="The version you last read (REST's If-Match).")]
NoteArg = Annotated[str, strawberry.argument(description="Kept in the audit trail (e.g. why it was declined).")]


def _action_mutation(action: TwinningAction, face: ActionFace) -> Any:
    """The mutation of one twinning action, named, described and scoped as the table says (as its REST route)."""

    async def resolve(
        self: Any, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, note: NoteArg = ""
    ) -> TwinningResult:
        principal = info.context.principal

        def work(session: Session) -> Twinning:
            body = validated(TwinningActionIn, {"note": note}, root=None)
            twinning = service.transition(session, principal, id, action, lambda: expected_version, note=body.note)
            return to_twinning(twinning)

        return await run_mutation(info, work, root=None, scopes=face.scopes)

    return strawberry.mutation(resolve, description=face.graphql_description)


# One mutation per action of the lifecycle table (app/twinnings/router.py makes the REST routes from it).
@generated_mutations({f.name: _action_mutation(a, f) for a, f in FACES.items()})
class TwinningLifecycleMutations:
    """The twinning actions: one mutation per row of app.twinnings.lifecycle.FACES."""


@strawberry.type
class TwinningWriteMutations:
    @strawberry.mutation(description="Propose a twinning (an official of one of the cities, or the programme).")
    async def propose_twinning(
        self,
        info: strawberry.Info[Context, None],
        input: TwinningCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> TwinningResult:
        principal = info.context.principal

        def work(session: Session) -> Twinning:
            body = validated(TwinningCreateIn, input)

            def create() -> tuple[TwinningOut, str]:
                twinning = service.propose(session, principal, body)
                return service.to_out(session, [twinning])[0], path_of(rest, "get_twinning", twinning_id=twinning.id)

            # The twinning proposed now, or by the first call of a replay (the session has the new one already).
            made = create_once(session, info.context, idempotency_key, path_of(rest, "propose_twinning"), body, create)
            return to_twinning(service.get_twinning(session, made.id))

        return await run_mutation(info, work, scopes=(Scope.twinnings_write,))


@strawberry.type
class TwinningMutations(TwinningWriteMutations, TwinningLifecycleMutations):
    """Every REST write of twinnings."""
