"""What the API says about cities and their KPI values."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.cities.models import City, Country, DataQuality, KpiObservation


class CountryOut(BaseModel):
    code: str
    name: str
    region: str
    subregion: str
    income_group: str

    @classmethod
    def from_model(cls, country: Country) -> CountryOut:
        return cls.model_validate(country, from_attributes=True)


class KpiValueOut(BaseModel):
    kpi: str = Field(description="KPI slug", examples=["EC-I-WS-3C"])
    kpi_code: str
    kpi_name: str
    data_point: str = Field(description='"" for the KPI as a whole')
    year: int
    value: float
    unit: str
    data_quality: DataQuality
    verified: bool
    source: str

    @classmethod
    def from_model(cls, obs: KpiObservation) -> KpiValueOut:
        dp = obs.data_point
        return cls(
            kpi=dp.kpi.slug,
            kpi_code=dp.kpi.code,
            kpi_name=dp.kpi.name,
            data_point=dp.key,
            year=obs.year,
            value=obs.value,
            unit=dp.unit,
            data_quality=obs.data_quality,
            verified=obs.verified,
            source=obs.source,
        )


class CityOut(BaseModel):
    id: int
    slug: str
    name: str
    country: CountryOut
    region: str
    population: int | None
    population_year: int | None
    area_km2: float | None
    latitude: float | None
    longitude: float | None
    languages: list[str]
    climate: str
    data_public: bool = Field(description="Whether the city publishes its KPI values")
    is_demo: bool = Field(description="True when some of the KPI values shown for this city are invented for the demo")
    source: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, city: City) -> CityOut:
        return cls(
            id=city.id or 0,
            slug=city.slug,
            name=city.name,
            country=CountryOut.from_model(city.country),
            region=city.region,
            population=city.population,
            population_year=city.population_year,
            area_km2=city.area_km2,
            latitude=city.latitude,
            longitude=city.longitude,
            languages=list(city.languages),
            climate=city.climate,
            data_public=city.data_public,
            is_demo=city.is_demo,
            source=city.source,
            created_at=city.created_at,
            updated_at=city.updated_at,
        )


class CityDetailOut(CityOut):
    latest_kpi_values: list[KpiValueOut] = Field(
        description="The latest value of each KPI data point; empty when the data is not public to you."
    )
    kpi_values_visible: bool
