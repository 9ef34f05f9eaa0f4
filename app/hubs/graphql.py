"""GraphQL face of country hubs and their public catalogues."""

from __future__ import annotations

import strawberry

from app.graphql.context import Context
from app.graphql.loaders import get_loaders
from app.graphql.relay import Connection, page_request
from app.hubs import service
from app.hubs.models import CatalogueStatus
from app.hubs.models import Hub as HubRow
from app.hubs.models import HubCatalogueEntry as EntryRow
from app.hubs.schemas import CatalogueEntryBaseOut, HubOut
from app.solutions.graphql import Solution, to_solution

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
        filters = service.HubFilters(country=country)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_hubs(s, filters, page))
        return Connection[Hub].from_page(result, to_hub)

    @strawberry.field(description="One hub (the same id as in REST).")
    async def hub(self, info: strawberry.Info[Context, None], id: int) -> Hub:
        return to_hub(await info.context.run_db(lambda s: service.get_hub(s, id)))
