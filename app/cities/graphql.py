"""GraphQL face of cities: the same service functions and output schemas as REST."""

from __future__ import annotations

import strawberry

from app.cities import service
from app.cities.models import DataQuality
from app.cities.schemas import CityDetailOut, CityOut, CountryOut, KpiValueOut
from app.graphql.context import Context
from app.graphql.relay import Connection, page_request

DataQualityEnum = strawberry.enum(DataQuality)
CitySortEnum = strawberry.enum(service.CitySort, name="CitySort")


@strawberry.experimental.pydantic.type(model=CountryOut, all_fields=True)
class Country:
    pass


@strawberry.experimental.pydantic.type(model=KpiValueOut, all_fields=True)
class KpiValue:
    pass


@strawberry.experimental.pydantic.type(model=CityOut, all_fields=True)
class City:
    pass


@strawberry.experimental.pydantic.type(model=CityDetailOut, all_fields=True)
class CityDetail:
    pass


@strawberry.type
class CityQueries:
    @strawberry.field(description="Cities; filters as in GET /api/v1/cities.")
    async def cities(
        self,
        info: strawberry.Info[Context, None],
        country: str | None = None,
        region: str | None = None,
        data_public: bool | None = None,
        demo: bool | None = None,
        q: str | None = None,
        sort: service.CitySort = service.CitySort.name,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[City]:
        filters = service.CityFilters(country=country, region=region, data_public=data_public, q=q, demo=demo)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_cities(s, filters, page, sort))
        return Connection[City].from_page(result, lambda c: City.from_pydantic(CityOut.from_model(c)))

    @strawberry.field(description="One city with its latest KPI values (the same id as in REST).")
    async def city(self, info: strawberry.Info[Context, None], id: int) -> CityDetail:
        principal = info.context.principal
        out = await info.context.run_db(lambda s: service.get_city_detail(s, id, principal))
        return CityDetail.from_pydantic(out)
