"""Cities and their profiles: reading them, onboarding a city, editing its profile.

KPI values (the time series of observations) live in `app.cities.kpi_values`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.audit.context import current_request_id
from app.auth import permissions
from app.auth.principal import ANONYMOUS, Principal
from app.cities.models import City, Country, KpiObservation
from app.cities.schemas import CityCreateIn, CityDetailOut, CityFilters, CityOut, CityRefOut, CityUpdateIn, KpiValueOut
from app.core.concurrency import claim_version
from app.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.hubs.models import HubCountry
from app.identity.models import OrganisationKind
from app.identity.service import ensure_organisation
from app.kpis.models import Kpi, KpiDataPoint

# Reads the version the caller last saw (REST: from If-Match, 428/412 on a missing or foreign tag). Called
# after the permission check, so that a caller without the right learns that first.
Precondition = Callable[[], int]


class CitySort(StrEnum):
    name = "name"
    population = "population"
    population_desc = "-population"


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


# ------------------------------------------------------------------------------------------------ writes

# The profile fields an update may change (CityUpdateIn's), in the order audit events list them.
PROFILE_FIELDS = (
    "name",
    "region",
    "population",
    "population_year",
    "area_km2",
    "latitude",
    "longitude",
    "languages",
    "climate",
    "data_public",
    "source",
)
_NORDIC = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "å": "a", "Å": "A", "ß": "ss"})


def _slug_base(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.translate(_NORDIC)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100] or "city"


def _free_slug(session: Session, name: str, country_code: str) -> str:
    base = _slug_base(name)
    taken = set(session.exec(select(City.slug).where(col(City.slug).startswith(base, autoescape=True))).all())
    for candidate in (base, f"{base}-{country_code.lower()}"):
        if candidate not in taken:
            return candidate
    n = 2
    while f"{base}-{country_code.lower()}-{n}" in taken:
        n += 1
    return f"{base}-{country_code.lower()}-{n}"


def _profile(city: City) -> dict[str, Any]:
    return {name: getattr(city, name) for name in PROFILE_FIELDS}


def _name_taken(session: Session, country_code: str, name: str, except_id: int | None = None) -> City | None:
    statement = select(City).where(
        col(City.country_code) == country_code, sa.func.lower(City.name) == name.strip().lower()
    )
    if except_id is not None:
        statement = statement.where(col(City.id) != except_id)
    return session.exec(statement).first()


def hubs_serving(session: Session, country_code: str) -> list[int]:
    return list(session.exec(select(HubCountry.hub_id).where(HubCountry.country_code == country_code)).all())


def create_city(session: Session, principal: Principal, data: CityCreateIn) -> City:
    """Onboard a city (admins; curators of a hub serving its country), with its organisation, so that
    officials can be added to it."""
    country = session.get(Country, data.country)
    if country is None:
        raise InvalidInput(
            f"No country with code {data.country!r}: use the ISO 3166-1 alpha-2 code of a country the platform "
            "knows (GET /api/v1/cities shows each city's country).",
            errors=[{"field": "body.country", "message": "unknown country", "type": "unknown"}],
        )
    permissions.require(
        permissions.can_onboard_city(principal, hubs_serving(session, country.code)),
        f"Only admins and the curators of a hub serving {country.name} may add a city there.",
    )
    existing = _name_taken(session, country.code, data.name)
    if existing is not None:
        raise Conflict(
            f"{country.name} already has a city named {existing.name!r} (id {existing.id}).",
            extra={"existing_id": existing.id},
        )
    values = data.model_dump(exclude={"country"})
    city = City(**values, country_code=country.code, slug=_free_slug(session, data.name, country.code))
    session.add(city)
    session.flush()
    ensure_organisation(session, OrganisationKind.city, city.id)
    audit.record(
        session,
        principal,
        "city.create",
        "city",
        city.id or 0,
        {"country": country.code, "slug": city.slug, **_profile(city)},
        request_id=current_request_id(),
    )
    return get_city(session, city.id or 0)


def update_city(
    session: Session, principal: Principal, city_id: int, if_match: Precondition, data: CityUpdateIn
) -> City:
    """Change the fields sent (If-Match guarded): an official of that city, or an admin."""
    city = get_city(session, city_id)
    permissions.require(
        permissions.can_edit_city(principal, city_id),
        f"Only the officials of {city.name} (with cities:write) and admins may edit this city.",
    )
    expected_version = if_match()
    if city.version != expected_version:
        raise PreconditionFailed(
            f"This city changed since you read it (your version {expected_version}, now {city.version}); "
            "GET it again and reapply your change.",
            extra={"current_etag": f'"city-{city_id}-v{city.version}"'},
        )
    changes = data.model_dump(exclude_unset=True)
    merged = {**_profile(city), **changes}
    if (merged["latitude"] is None) != (merged["longitude"] is None):
        raise InvalidInput(
            "latitude and longitude are both set or both null.",
            errors=[{"field": "body.latitude", "message": "set both coordinates", "type": "pair"}],
        )
    if "name" in changes:
        clash = _name_taken(session, city.country_code, changes["name"], except_id=city_id)
        if clash is not None:
            raise Conflict(f"{city.country.name} already has a city named {clash.name!r} (id {clash.id}).")
    change = audit.diff(_profile(city), {**_profile(city), **changes})
    if not change:
        return city  # nothing differs: no new version, nothing to audit
    city.version = claim_version(session, City, city_id, expected_version)
    for name, value in changes.items():
        setattr(city, name, value)
    session.add(city)
    session.flush()
    audit.record(session, principal, "city.update", "city", city_id, change, request_id=current_request_id())
    return city


def city_refs(session: Session, city_ids: Iterable[int]) -> dict[int, CityRefOut]:
    """Cities as other resources show them (by name and country), in one statement."""
    rows = session.exec(select(City).where(col(City.id).in_(set(city_ids)))).all()
    return {c.id or 0: CityRefOut.from_model(c) for c in rows}
