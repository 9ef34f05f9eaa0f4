"""GraphQL face of country hubs and their public catalogues."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel import Session

from app.auth.principal import Scope
from app.graphql.context import Context
from app.graphql.loaders import get_loaders
from app.graphql.mutations import (
    Deleted,
    DeleteResult,
    MutationError,
    expected_or_required,
    run_mutation,
    validated,
    validated_arguments,
)
from app.graphql.relay import Connection, page_request
from app.hubs import service
from app.hubs.models import CatalogueStatus
from app.hubs.models import Hub as HubRow
from app.hubs.models import HubCatalogueEntry as EntryRow
from app.hubs.schemas import CatalogueDecisionIn, CatalogueDecisionOut, CatalogueEntryBaseOut, HubFilters, HubOut
from app.solutions.graphql import Solution, to_solution
from app.solutions.models import Solution as SolutionRow
from app.solutions.schemas import SolutionOut

CatalogueStatusEnum = strawberry.enum(CatalogueStatus)
PublicCatalogueStatusEnum = strawberry.enum(service.PublicCatalogueStatus, name="PublicCatalogueStatus")


@strawberry.experimental.pydantic.type(model=CatalogueEntryBaseOut, all_fields=True)
class CatalogueEntry:
    solution_id: int

    @strawberry.field(description="The listing (null if it was unpublished since the catalogue was read).")
    async def solution(self, info: strawberry.Info[Context, None]) -> Solution | None:
        solution = await get_loaders(info.context).solution.load(self.solution_id)
        return to_solution(solution) if solution is not None else None


def to_entry(entry: EntryRow) -> CatalogueEntry:
    return CatalogueEntry.from_pydantic(CatalogueEntryBaseOut.from_model(entry))


@strawberry.experimental.pydantic.type(model=HubOut, all_fields=True)
class Hub:
    id: int

    @strawberry.field(description="The public catalogue: approved and featured published listings, featured first.")
    async def catalogue(
        self,
        info: strawberry.Info[Context, None],
        status: service.PublicCatalogueStatus | None = None,
        category: str | None = None,
        kpi: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[CatalogueEntry]:
        key = (self.id, service.CatalogueFilters(status=status, category=category, kpi=kpi), page_request(first, after))
        result = await get_loaders(info.context).hub_catalogue.load(key)
        return Connection[CatalogueEntry].from_page(result, to_entry)


def to_hub(hub: HubRow) -> Hub:
    return Hub.from_pydantic(HubOut.from_model(hub))


@strawberry.type
class HubQueries:
    @strawberry.field(description="The country hubs; filters as in GET /api/v1/hubs.")
    async def hubs(
        self,
        info: strawberry.Info[Context, None],
        country: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Hub]:
        filters = validated_arguments(HubFilters, country=country)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_hubs(s, filters, page))
        return Connection[Hub].from_page(result, to_hub)

    @strawberry.field(description="One hub (the same id as in REST).")
    async def hub(self, info: strawberry.Info[Context, None], id: int) -> Hub:
        return to_hub(await info.context.run_db(lambda s: service.get_hub(s, id)))


@strawberry.experimental.pydantic.type(
    model=CatalogueDecisionOut,
    description="A curator's decision as its curators see it (hidden ones too), with its version.",
)
class CatalogueDecision:
    id: strawberry.auto
    hub_id: strawberry.auto
    solution_id: strawberry.auto
    status: strawberry.auto
    note: strawberry.auto
    decided_at: strawberry.auto
    decided_by_user_id: strawberry.auto
    version: strawberry.auto

    @strawberry.field(description="The listing (null if it was unpublished since).")
    async def solution(self, info: strawberry.Info[Context, None]) -> Solution | None:
        solution = await get_loaders(info.context).solution.load(self.solution_id)
        return to_solution(solution) if solution is not None else None


def to_decision(entry: EntryRow, listing: SolutionRow) -> CatalogueDecision:
    return CatalogueDecision.from_pydantic(CatalogueDecisionOut.from_entry(entry, SolutionOut.from_model(listing)))


@strawberry.type
class HubDecisionQueries:
    @strawberry.field(
        description="One catalogue decision with the version a change needs (hidden ones: the hub's curators)."
    )
    async def catalogue_decision(
        self, info: strawberry.Info[Context, None], hub_id: int, solution_id: int
    ) -> CatalogueDecision:
        principal = info.context.principal

        def read(session: Session) -> CatalogueDecision:
            return to_decision(*service.get_catalogue_entry(session, principal, hub_id, solution_id))

        return await info.context.run_db(read)


# ================================================================================================ mutations

CatalogueDecisionResult = Annotated[CatalogueDecision | MutationError, strawberry.union("CatalogueDecisionResult")]


@strawberry.type
class HubMutations:
    @strawberry.mutation(
        description="Approve, feature or hide a published listing in the hub's catalogue (its curators, admins; "
        "PUT /api/v1/hubs/{id}/catalogue/{solutionId}). expectedVersion is needed to replace a decision."
    )
    async def curate_hub_catalogue(
        self,
        info: strawberry.Info[Context, None],
        hub_id: int,
        solution_id: int,
        status: CatalogueStatus,
        note: str = "",
        expected_version: Annotated[
            int | None, strawberry.argument(description="The decision's version (to replace an existing one).")
        ] = None,
    ) -> CatalogueDecisionResult:
        principal = info.context.principal

        def work(session: Session) -> CatalogueDecision:
            body = validated(CatalogueDecisionIn, {"status": status, "note": note}, root=None)

            def expected(_entry_id: int) -> int:
                return expected_or_required(expected_version, "a catalogue decision")

            entry, listing, _created = service.put_catalogue_entry(
                session, principal, hub_id, solution_id, body, expected
            )
            return to_decision(entry, listing)

        return await run_mutation(info, work, root=None, scopes=(Scope.catalogue_write,))

    @strawberry.mutation(
        description="Remove a decision: the listing is then neither listed nor hidden in this hub (its curators, "
        "admins). Answers the removed decision's id."
    )
    async def remove_from_hub_catalogue(
        self,
        info: strawberry.Info[Context, None],
        hub_id: int,
        solution_id: int,
        expected_version: Annotated[int, strawberry.argument(description="The decision's version.")],
    ) -> DeleteResult:
        principal = info.context.principal

        def work(session: Session) -> Deleted:
            removed: list[int] = []

            def expected(entry_id: int) -> int:
                removed.append(entry_id)
                return expected_version

            service.delete_catalogue_entry(session, principal, hub_id, solution_id, expected)
            return Deleted(id=removed[0])

        return await run_mutation(info, work, root=None, scopes=(Scope.catalogue_write,))
