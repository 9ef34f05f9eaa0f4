"""GraphQL face of twinnings: the same service functions and output schemas as REST."""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlmodel import Session

from app.auth.actions import ActionFace
from app.auth.principal import Principal, Scope
from app.cities.graphql import City
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.mutations import (
    Deleted,
    DeleteResult,
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
from app.kpis.graphql import DirectionEnum, Kpi
from app.solutions.graphql import resolve_city, resolve_kpis
from app.twinnings import plan, service
from app.twinnings.lifecycle import FACES, TwinningAction
from app.twinnings.models import ActivityStatus, TwinningStatus
from app.twinnings.models import Twinning as TwinningRow
from app.twinnings.models import TwinningActivity as ActivityRow
from app.twinnings.router import router as rest
from app.twinnings.schemas import (
    ActivityBaseOut,
    ActivityCreateIn,
    ActivityOut,
    ActivityUpdateIn,
    CityProgressOut,
    DataPointProgressOut,
    KpiProgressOut,
    OutcomeIn,
    OutcomeKpiNoteIn,
    OutcomeOut,
    TwinningActionIn,
    TwinningBaseOut,
    TwinningCreateIn,
    TwinningFilters,
    TwinningOut,
    ValueAtOut,
)

TwinningStatusEnum = strawberry.enum(TwinningStatus)
ActivityStatusEnum = strawberry.enum(ActivityStatus, name="TwinningActivityStatus")


# ------------------------------------------------------------------------------------ the plan's types
# docs/architecture.md, "Twinning plans" (app.twinnings.plan).


@strawberry.experimental.pydantic.type(model=ActivityBaseOut, all_fields=True, name="TwinningActivity")
class Activity:
    kpi_ids: strawberry.Private[list[int]]

    @strawberry.field(description="The KPIs it aims at, in KPI code order.")
    async def kpis(self, info: strawberry.Info[Context, None]) -> list[Kpi]:
        return await resolve_kpis(info, self.kpi_ids)


def to_activity(activity: ActivityRow) -> Activity:
    return Activity.from_pydantic(
        ActivityBaseOut.from_model(activity), extra={"kpi_ids": [k.kpi_id for k in activity.kpis]}
    )


@strawberry.type(name="TwinningOutcomeKpiNote")
class OutcomeKpiNote:
    kpi_id: strawberry.Private[int]
    note: str

    @strawberry.field
    async def kpi(self, info: strawberry.Info[Context, None]) -> Kpi:
        (kpi,) = await resolve_kpis(info, [self.kpi_id])
        return kpi


@strawberry.type(name="TwinningOutcome", description="What a completed twinning achieved (the programme's record).")
class Outcome:
    twinning_id: int
    summary: str
    kpi_notes: list[OutcomeKpiNote] = strawberry.field(description="In KPI code order.")
    version: int
    created_at: datetime
    updated_at: datetime


def to_outcome(out: OutcomeOut, ids: dict[str, int]) -> Outcome:
    return Outcome(
        twinning_id=out.twinning_id,
        summary=out.summary,
        kpi_notes=[OutcomeKpiNote(kpi_id=ids[n.kpi.slug], note=n.note) for n in out.kpi_notes],
        version=out.version,
        created_at=out.created_at,
        updated_at=out.updated_at,
    )


def _outcome_now(session: Session, twinning_id: int) -> Outcome | None:
    out = plan.get_outcome(session, twinning_id)
    if out is None:
        return None
    return to_outcome(out, plan.kpi_ids_by_slug(session, [n.kpi.slug for n in out.kpi_notes]))


@strawberry.experimental.pydantic.type(model=ValueAtOut, all_fields=True, name="TwinningValueAt")
class ValueAt:
    pass


@strawberry.experimental.pydantic.type(model=CityProgressOut, all_fields=True, name="TwinningCityProgress")
class CityProgress:
    pass


@strawberry.experimental.pydantic.type(model=DataPointProgressOut, all_fields=True, name="TwinningDataPointProgress")
class DataPointProgress:
    pass


@strawberry.experimental.pydantic.type(model=KpiProgressOut, name="TwinningKpiProgress")
class KpiProgress:
    unit: strawberry.auto
    direction: DirectionEnum  # type: ignore[valid-type]
    outcome_note: strawberry.auto
    data_points: strawberry.auto
    kpi_id: strawberry.Private[int]

    @strawberry.field
    async def kpi(self, info: strawberry.Info[Context, None]) -> Kpi:
        (kpi,) = await resolve_kpis(info, [self.kpi_id])
        return kpi


@strawberry.type(
    name="TwinningProgress",
    description="Each KPI the plan aims at, both cities' values before and after, side by side (as GET "
    "/api/v1/twinnings/{id}/progress).",
)
class Progress:
    twinning_id: int
    baseline_at: datetime
    end_at: datetime
    completed: bool
    kpis: list[KpiProgress] = strawberry.field(description="In KPI code order.")


def _progress(session: Session, principal: Principal, twinning_id: int) -> Progress:
    out = plan.progress(session, principal, twinning_id)
    ids = plan.kpi_ids_by_slug(session, [k.kpi.slug for k in out.kpis])
    return Progress(
        twinning_id=out.twinning_id,
        baseline_at=out.baseline_at,
        end_at=out.end_at,
        completed=out.completed,
        kpis=[KpiProgress.from_pydantic(k, extra={"kpi_id": ids[k.kpi.slug]}) for k in out.kpis],
    )


@strawberry.experimental.pydantic.type(model=TwinningBaseOut, all_fields=True)
class Twinning:
    id: int
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

    @strawberry.field(description="The plan's activities by start date (as GET /api/v1/twinnings/{id}/activities).")
    async def activities(
        self, info: strawberry.Info[Context, None], first: int = 20, after: str | None = None
    ) -> Connection[Activity]:
        page = page_request(first, after)
        twinning_id = self.id
        result = await info.context.run_db(lambda s: plan.list_activities(s, twinning_id, page))
        return Connection[Activity].from_page(result, to_activity)

    @strawberry.field(description="The outcome the programme recorded once the twinning was completed; null before.")
    async def outcome(self, info: strawberry.Info[Context, None]) -> Outcome | None:
        twinning_id = self.id
        return await info.context.run_db(lambda s: _outcome_now(s, twinning_id))

    @strawberry.field(
        description="Both cities' values of the KPIs the plan aims at, before and after (a city's values only if "
        "you may read them)."
    )
    async def progress(self, info: strawberry.Info[Context, None]) -> Progress:
        twinning_id, principal = self.id, info.context.principal
        return await info.context.run_db(lambda s: _progress(s, principal, twinning_id))


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


# ============================================================================================ the plan
# The REST writes of app/twinnings/router.py's plan section, through app.twinnings.plan.


@pydantic_input(ActivityCreateIn, description="An activity of a twinning's plan (as REST's body).")
class TwinningActivityCreateInput:
    pass


@pydantic_input(ActivityUpdateIn, partial=True, description="Only the fields given change (as REST's PATCH).")
class TwinningActivityUpdateInput:
    pass


@pydantic_input(OutcomeKpiNoteIn)
class TwinningOutcomeKpiNoteInput:
    pass


@pydantic_input(OutcomeIn)
class TwinningOutcomeInput:
    pass


ActivityResult = Annotated[Activity | MutationError, strawberry.union("TwinningActivityResult")]
OutcomeResult = Annotated[Outcome | MutationError, strawberry.union("TwinningOutcomeResult")]


def _activity_now(session: Session, ids: tuple[int, int]) -> Activity:
    return to_activity(plan.get_activity(session, *ids))


@strawberry.type
class TwinningPlanMutations:
    @strawberry.mutation(
        description="Add an activity to an active twinning's plan (either city's officials, or the programme)."
    )
    async def create_twinning_activity(
        self,
        info: strawberry.Info[Context, None],
        twinning_id: int,
        input: TwinningActivityCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> ActivityResult:
        principal = info.context.principal

        def work(session: Session) -> tuple[int, int]:
            body = validated(ActivityCreateIn, input)

            def create() -> tuple[ActivityOut, str]:
                activity = plan.create_activity(session, principal, twinning_id, body)
                location = path_of(rest, "get_activity", twinning_id=twinning_id, activity_id=activity.id)
                return plan.activities_out(session, [activity])[0], location

            path = path_of(rest, "create_activity", twinning_id=twinning_id)
            made = create_once(session, info.context, idempotency_key, path, body, create)
            return twinning_id, made.id

        return await run_mutation(info, work, then=_activity_now, scopes=(Scope.twinnings_write,))

    @strawberry.mutation(
        description="Edit an activity of an active twinning (either city's officials, or the programme)."
    )
    async def update_twinning_activity(
        self,
        info: strawberry.Info[Context, None],
        twinning_id: int,
        id: int,
        expected_version: VersionArg,
        input: TwinningActivityUpdateInput,
    ) -> ActivityResult:
        principal = info.context.principal

        def work(session: Session) -> tuple[int, int]:
            body = validated(ActivityUpdateIn, input)
            plan.update_activity(session, principal, twinning_id, id, lambda: expected_version, body)
            return twinning_id, id

        return await run_mutation(info, work, then=_activity_now, scopes=(Scope.twinnings_write,))

    @strawberry.mutation(
        description="Delete an activity of an active twinning (either city's officials, or the programme)."
    )
    async def delete_twinning_activity(
        self, info: strawberry.Info[Context, None], twinning_id: int, id: int
    ) -> DeleteResult:
        principal = info.context.principal

        def work(session: Session) -> Deleted:
            plan.delete_activity(session, principal, twinning_id, id)
            return Deleted(id=id)

        return await run_mutation(info, work, root=None, scopes=(Scope.twinnings_write,))

    @strawberry.mutation(
        description="Record or replace a completed twinning's outcome: a summary and notes per aimed KPI (the "
        "programme: coordinators, admins)."
    )
    async def record_twinning_outcome(
        self, info: strawberry.Info[Context, None], twinning_id: int, input: TwinningOutcomeInput
    ) -> OutcomeResult:
        principal = info.context.principal

        def work(session: Session) -> int:
            body = validated(OutcomeIn, input)
            plan.put_outcome(session, principal, twinning_id, body)
            return twinning_id

        def then(session: Session, made: int) -> Outcome:
            outcome = _outcome_now(session, made)
            assert outcome is not None  # just recorded
            return outcome

        return await run_mutation(info, work, then=then, scopes=(Scope.twinnings_write,))
