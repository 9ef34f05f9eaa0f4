"""GraphQL face of cities: the same service functions and output schemas as REST."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel import Session

from app.auth.principal import Scope
from app.cities import kpi_values, service
from app.cities.models import DataQuality
from app.cities.router import router as rest
from app.cities.schemas import (
    CityCreateIn,
    CityDetailOut,
    CityFilters,
    CityOut,
    CityUpdateIn,
    CountryOut,
    KpiObservationOut,
    KpiValueIn,
    KpiValueKeyIn,
    KpiValueOut,
    KpiValuesPutIn,
    KpiValuesVerifyIn,
    KpiValuesVerifyOut,
    KpiValuesWriteOut,
)
from app.core.errors import PayloadTooLarge
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.mutations import (
    IdempotencyKeyArg,
    MutationError,
    create_once,
    given,
    pydantic_input,
    run_mutation,
    validated,
    validated_arguments,
)
from app.graphql.relay import Connection, page_request

DataQualityEnum = strawberry.enum(DataQuality)
CitySortEnum = strawberry.enum(service.CitySort, name="CitySort")


@strawberry.experimental.pydantic.type(model=CountryOut, all_fields=True)
class Country:
    pass


@strawberry.experimental.pydantic.type(model=KpiValueOut, all_fields=True)
class KpiValue:
    pass


@strawberry.experimental.pydantic.type(model=KpiObservationOut, all_fields=True)
class KpiObservation:
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
        filters = validated_arguments(
            CityFilters, country=country, region=region, data_public=data_public, demo=demo, q=q
        )
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_cities(s, filters, page, sort))
        return Connection[City].from_page(result, lambda c: City.from_pydantic(CityOut.from_model(c)))

    @strawberry.field(description="One city with its latest KPI values (the same id as in REST).")
    async def city(self, info: strawberry.Info[Context, None], id: int) -> CityDetail:
        principal = info.context.principal
        out = await info.context.run_db(lambda s: service.get_city_detail(s, id, principal))
        return CityDetail.from_pydantic(out)

    @strawberry.field(
        description="A city's KPI values, every year (GET /api/v1/cities/{id}/kpi-values; public when the city "
        "publishes its data, else its officials, programme coordinators and admins)."
    )
    async def city_kpi_values(
        self,
        info: strawberry.Info[Context, None],
        city_id: int,
        kpi: str | None = None,
        data_point: str | None = None,
        year: int | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[KpiObservation]:
        principal = info.context.principal
        filters = kpi_values.ValueFilters(kpi=kpi, data_point=data_point, year=year)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: kpi_values.list_values(s, principal, city_id, filters, page))
        return Connection[KpiObservation].from_page(
            result, lambda o: KpiObservation.from_pydantic(KpiObservationOut.from_observation(o))
        )


# ================================================================================================ mutations
# The REST writes of app/cities/router.py (profile, KPI values), through the same services.


@pydantic_input(CityCreateIn)
class CityCreateInput:
    pass


@pydantic_input(CityUpdateIn, partial=True)
class CityUpdateInput:
    pass


@pydantic_input(KpiValueIn)
class KpiValueInput:
    pass


@pydantic_input(KpiValueKeyIn)
class KpiValueKeyInput:
    pass


@strawberry.experimental.pydantic.type(model=KpiValuesWriteOut, all_fields=True)
class KpiValuesWrite:
    pass


@strawberry.experimental.pydantic.type(model=KpiValuesVerifyOut, all_fields=True)
class KpiValuesVerify:
    pass


CityResult = Annotated[CityDetail | MutationError, strawberry.union("CityResult")]
KpiValuesWriteResult = Annotated[KpiValuesWrite | MutationError, strawberry.union("KpiValuesWriteResult")]
KpiValuesVerifyResult = Annotated[KpiValuesVerify | MutationError, strawberry.union("KpiValuesVerifyResult")]


@strawberry.type
class CityMutations:
    @strawberry.mutation(description="Onboard a city (admins; curators of a hub serving its country).")
    async def create_city(
        self,
        info: strawberry.Info[Context, None],
        input: CityCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> CityResult:
        principal = info.context.principal

        def work(session: Session) -> int:
            body = validated(CityCreateIn, input)

            def create() -> tuple[CityDetailOut, str]:
                city = service.create_city(session, principal, body)
                out = service.get_city_detail(session, city.id or 0, principal)  # what REST answers (and replays)
                return out, path_of(rest, "get_city", city_id=out.id)

            # The id of the city created now, or by the first call of a replay: read after the commit.
            return create_once(session, info.context, idempotency_key, path_of(rest, "create_city"), body, create).id

        def answer(session: Session, city_id: int) -> CityDetail:
            return CityDetail.from_pydantic(service.get_city_detail(session, city_id, principal))

        return await run_mutation(info, work, then=answer)

    @strawberry.mutation(description="Edit a city's profile: only the fields given change (its officials, admins).")
    async def update_city(
        self,
        info: strawberry.Info[Context, None],
        id: int,
        expected_version: Annotated[int, strawberry.argument(description="The version you last read (If-Match).")],
        input: CityUpdateInput,
    ) -> CityResult:
        principal = info.context.principal

        def work(session: Session) -> None:
            service.update_city(session, principal, id, lambda: expected_version, validated(CityUpdateIn, input))

        def answer(session: Session, _: None) -> CityDetail:
            return CityDetail.from_pydantic(service.get_city_detail(session, id, principal))

        return await run_mutation(info, work, then=answer, scopes=(Scope.cities_write,))

    @strawberry.mutation(
        description="Upsert a city's KPI values by (KPI, data point, year): all rows or none, and a refusal "
        "names every bad row (its officials, admins; PUT /api/v1/cities/{id}/kpi-values)."
    )
    async def upsert_kpi_values(
        self, info: strawberry.Info[Context, None], city_id: int, values: list[KpiValueInput]
    ) -> KpiValuesWriteResult:
        principal = info.context.principal

        def work(session: Session) -> KpiValuesWrite:
            body = validated(KpiValuesPutIn, {"values": [given(v) for v in values]}, root=None)
            return KpiValuesWrite.from_pydantic(kpi_values.upsert_values(session, principal, city_id, body.values))

        return await run_mutation(info, work, root=None, scopes=(Scope.cities_write,))

    @strawberry.mutation(
        description="Import KPI values from CSV text, as POST /api/v1/cities/{id}/kpi-values/import does with a file "
        "(columns: kpi, data_point, year, value, data_quality, source; optional note): all rows or none."
    )
    async def import_kpi_values(
        self, info: strawberry.Info[Context, None], city_id: int, csv: str
    ) -> KpiValuesWriteResult:
        principal = info.context.principal
        limit = info.context.settings.upload_max_bytes

        def work(session: Session) -> KpiValuesWrite:
            kpi_values.check_can_write(session, principal, city_id)
            data = csv.encode("utf-8")
            if len(data) > limit:
                raise PayloadTooLarge(
                    f"The CSV text is larger than the limit of {limit} bytes; split it into several imports.",
                    extra={"limit_bytes": limit},
                )
            return KpiValuesWrite.from_pydantic(kpi_values.import_csv(session, principal, city_id, data))

        return await run_mutation(info, work, root=None, scopes=(Scope.cities_write,))

    @strawberry.mutation(description="Mark stored KPI values verified, or withdraw it with verified: false (admins).")
    async def verify_kpi_values(
        self,
        info: strawberry.Info[Context, None],
        city_id: int,
        values: list[KpiValueKeyInput],
        verified: bool = True,
    ) -> KpiValuesVerifyResult:
        principal = info.context.principal

        def work(session: Session) -> KpiValuesVerify:
            body = validated(KpiValuesVerifyIn, {"values": [given(v) for v in values], "verified": verified}, root=None)
            return KpiValuesVerify.from_pydantic(kpi_values.verify_values(session, principal, city_id, body))

        return await run_mutation(info, work, root=None)
