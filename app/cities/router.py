"""REST face of cities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.auth.deps import PrincipalDep
from app.cities import service
from app.cities.schemas import CityDetailOut, CityOut
from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page

router = APIRouter(prefix="/api/v1/cities", tags=["cities"])


@router.get("", response_model=Page[CityOut], summary="List cities")
def list_cities(
    session: SessionDep,
    page: PageDep,
    country: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country code")
    ] = None,
    region: Annotated[
        str | None, Query(description="UN region: Africa, Americas, Asia, Europe, Oceania")
    ] = None,
    data_public: Annotated[
        bool | None, Query(description="Only cities that publish (or not) their KPI data")
    ] = None,
    demo: Annotated[bool | None, Query(description="Only demo cities (true) or real ones (false)")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Name prefix")] = None,
    sort: service.CitySort = service.CitySort.name,
) -> Page[CityOut]:
    filters = service.CityFilters(country=country, region=region, data_public=data_public, q=q, demo=demo)
    result = service.list_cities(session, filters, page, sort)
    return Page(
        items=[CityOut.from_model(c) for c in result.items],
        total=result.total,
        next_cursor=result.next_cursor,
    )


@router.get("/{city_id}", response_model=CityDetailOut, summary="One city with its latest KPI values")
def get_city(session: SessionDep, principal: PrincipalDep, city_id: Annotated[int, Path(ge=1)]) -> CityDetailOut:
    return service.get_city_detail(session, city_id, principal)
