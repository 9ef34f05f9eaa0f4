"""Countries, cities and their KPI observations (a time series: a new year adds a row)."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from app.core.models import created_at_field, enum_column, no_lazy, updated_at_field

if TYPE_CHECKING:
    from app.kpis.models import KpiDataPoint


class DataQuality(StrEnum):
    """Six levels, from an accurate measurement down to an unknown method."""

    measured = "measured"
    calculated = "calculated"
    estimated = "estimated"
    modelled = "modelled"
    expert_opinion = "expert_opinion"
    unknown = "unknown"


class Country(SQLModel, table=True):
    __tablename__ = "country"

    code: str = Field(primary_key=True, max_length=2, description="ISO 3166-1 alpha-2")
    name: str = Field(max_length=100, unique=True)
    region: str = Field(max_length=32, description="UN M49 region")
    subregion: str = Field(default="", max_length=64)
    income_group: str = Field(default="", max_length=16)


class City(SQLModel, table=True):
    __tablename__ = "city"
    __table_args__ = (
        sa.UniqueConstraint("country_code", "name"),
        sa.CheckConstraint("population IS NULL OR population >= 0", name="population_positive"),
        sa.CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        sa.CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True)
    name: str = Field(max_length=120, index=True)
    country_code: str = Field(foreign_key="country.code", max_length=2, index=True)
    region: str = Field(default="", max_length=120)
    population: int | None = Field(default=None)
    population_year: int | None = Field(default=None)
    area_km2: float | None = Field(default=None)
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    languages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    climate: str = Field(default="", max_length=8, description="Koeppen climate class")
    data_public: bool = Field(default=False, index=True)
    is_demo: bool = Field(default=False)
    source: str = Field(default="")
    # Bumped on every update: the ETag, and the guard against lost updates (see app.core.concurrency).
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    country: "Country" = Relationship(sa_relationship_kwargs=no_lazy())
    observations: list["KpiObservation"] = Relationship(
        back_populates="city", sa_relationship_kwargs={**no_lazy(), "cascade": "all, delete-orphan"}
    )


class KpiObservation(SQLModel, table=True):
    __tablename__ = "kpi_observation"
    __table_args__ = (
        sa.UniqueConstraint("city_id", "data_point_id", "year"),
        sa.CheckConstraint("year BETWEEN 1900 AND 2200", name="year_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    city_id: int = Field(foreign_key="city.id", index=True, ondelete="CASCADE")
    data_point_id: int = Field(foreign_key="kpi_data_point.id", index=True)
    year: int
    value: float
    data_quality: DataQuality = Field(sa_type=enum_column(DataQuality, "data_quality"))
    verified: bool = Field(default=False)
    source: str = Field(default="")
    note: str = Field(default="")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    city: "City" = Relationship(back_populates="observations", sa_relationship_kwargs=no_lazy())
    data_point: "KpiDataPoint" = Relationship(sa_relationship_kwargs=no_lazy())
