"""GraphQL face of twinnings: the same service functions and output schemas as REST."""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

import strawberry

from app.cities.graphql import City
from app.graphql.context import Context
from app.graphql.relay import Connection, page_request
from app.kpis.graphql import Kpi
from app.solutions.graphql import resolve_city, resolve_kpis
from app.twinnings import service
from app.twinnings.models import Twinning as TwinningRow
from app.twinnings.models import TwinningStatus
from app.twinnings.schemas import TwinningBaseOut

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
        filters = service.TwinningFilters(city=city, status=status, kpi=kpi)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_twinnings(s, filters, page))
        return Connection[Twinning].from_page(result, to_twinning)

    @strawberry.field(description="One twinning (the same id as in REST).")
    async def twinning(self, info: strawberry.Info[Context, None], id: int) -> Twinning:
        return to_twinning(await info.context.run_db(lambda s: service.get_twinning(s, id)))
