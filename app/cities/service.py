"""Reading cities and their KPI values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.auth import permissions
from app.auth.principal import ANONYMOUS, Principal
from app.cities.models import City, Country, KpiObservation
from app.cities.schemas import CityDetailOut, CityOut, KpiValueOut
from app.core.errors import NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.kpis.models import Kpi, KpiDataPoint


class CitySort(StrEnum):
    name = "name"
    population = "population"
    population_desc = "-population"


@dataclass(frozen=True)
class CityFilters:
    country: str | None = None
    region: str | None = None
    data_public: bool | None = None
    q: str | None = None
    demo: bool | None = None


def list_cities(
    session: Session, filters: CityFilters, page: PageRequest, sort: CitySort = CitySort.name
) -> PageResult[City]:
    statement = select(City).options(selectinload(City.country))  # type: ignore[arg-type]
    if filters.country:
        statement = statement.where(col(City.country_code) == filters.country.upper())
    if filters.region:
        statement = statement.where(
            col(City.country_code).in_(
                select(Country.code).where(sa.func.lower(Country.region) == filters.region.lower())
            )
        )
    if filters.data_public is not None:
        statement = statement.where(col(City.data_public) == filters.data_public)
    if filters.demo is not None:
        statement = statement.where(col(City.is_demo) == filters.demo)
    if filters.q:
        statement = statement.where(sa.func.lower(City.name).startswith(filters.q.lower(), autoescape=True))
    if sort is CitySort.name:
        keys = [SortKey(City.name), SortKey(City.id)]  # type: ignore[arg-type]
    else:
        # Cities without a known population sort last either way (coalesce keeps the cursor comparable).
        statement = statement.where(col(City.population).is_not(None))
        keys = [SortKey(City.population, descending=sort is CitySort.population_desc), SortKey(City.id)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_city(session: Session, city_id: int) -> City:
    city = session.exec(
        select(City).where(City.id == city_id).options(selectinload(City.country))  # type: ignore[arg-type]
    ).first()
    if city is None:
        raise NotFound(f"No city with id {city_id}. GET /api/v1/cities lists the cities.")
    return city


def latest_kpi_values(session: Session, city_id: int, year: int | None = None) -> list[KpiObservation]:
    """The latest observation of each data point (or the latest up to `year`), in KPI code order."""
    ranked = select(
        KpiObservation.id,
        sa.func.row_number()
        .over(partition_by=col(KpiObservation.data_point_id), order_by=col(KpiObservation.year).desc())
        .label("rank"),
    ).where(KpiObservation.city_id == city_id)
    if year is not None:
        ranked = ranked.where(KpiObservation.year <= year)
    latest = ranked.subquery()
    statement = (
        select(KpiObservation)
        .join(latest, sa.and_(latest.c.id == KpiObservation.id, latest.c.rank == 1))
        .join(KpiDataPoint, col(KpiDataPoint.id) == KpiObservation.data_point_id)
        .join(Kpi, col(Kpi.id) == KpiDataPoint.kpi_id)
        .options(selectinload(KpiObservation.data_point).selectinload(KpiDataPoint.kpi))  # type: ignore[arg-type]
        .order_by(col(Kpi.code), col(KpiDataPoint.position))
    )
    return list(session.exec(statement).all())


def get_city_detail(session: Session, city_id: int, principal: Principal = ANONYMOUS) -> CityDetailOut:
    """A city with its latest KPI values, which only show when the city makes its data public, or to
    the callers allowed to read its private data (its officials, programme coordinators, admins)."""
    city = get_city(session, city_id)
    visible = city.data_public or permissions.can_read_city_private(principal, city_id)
    values = latest_kpi_values(session, city_id) if visible else []
    return CityDetailOut(
        **CityOut.from_model(city).model_dump(),
        latest_kpi_values=[KpiValueOut.from_model(v) for v in values],
        kpi_values_visible=visible,
    )
