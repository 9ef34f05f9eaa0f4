"""What the API says about cities and their KPI values."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.cities.models import City, Country, DataQuality, KpiObservation
from app.core.text import InputModel


class CityFilters(BaseModel):
    """The list filters of GET /api/v1/cities (its query model) and of GraphQL's `cities` (whose arguments are
    validated by it): each constraint once, so both faces refuse the same values with the same message
    (docs/architecture.md §4, "Each write declared once")."""

    model_config = ConfigDict(frozen=True)

    country: Annotated[str | None, Field(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country code")] = None
    region: Annotated[str | None, Field(description="UN region: Africa, Americas, Asia, Europe, Oceania")] = None
    data_public: Annotated[bool | None, Field(description="Only cities that publish (or not) their KPI data")] = None
    demo: Annotated[bool | None, Field(description="Only demo cities (true) or real ones (false)")] = None
    q: Annotated[str | None, Field(min_length=1, max_length=100, description="Name prefix")] = None


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
    version: int = Field(description="Bumped on every change; the ETag is built from it")
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
            version=city.version,
            created_at=city.created_at,
            updated_at=city.updated_at,
        )


class CityDetailOut(CityOut):
    latest_kpi_values: list[KpiValueOut] = Field(
        description="The latest value of each KPI data point; empty when the data is not public to you."
    )
    kpi_values_visible: bool


# ------------------------------------------------------------------------------------------ city profile

# Koeppen-Geiger climate classes (Af, BWh, Cfb, Dfc, ET, ...).
KOEPPEN = r"^(A[fmsw]|B[WS][hk]|C[sfw][abc]|D[sfw][abcd]|E[TF])?$"
MIN_POPULATION_YEAR = 1800

LanguageCode = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2}$")]


def _this_year() -> int:
    return datetime.now(UTC).year


class _CityFields(InputModel):
    """The editable profile of a city; every field's rule in one place (create and update share them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    region: str = Field(default="", max_length=120, description="Region or province within the country")
    population: int | None = Field(default=None, ge=0, le=100_000_000)
    population_year: int | None = Field(default=None, description="The year the population figure is for")
    area_km2: float | None = Field(default=None, gt=0, le=1_000_000, allow_inf_nan=False)
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, description="WGS 84")
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, description="WGS 84")
    languages: list[LanguageCode] = Field(default_factory=list, max_length=20, description="ISO 639-1 codes")
    climate: str = Field(default="", pattern=KOEPPEN, description="Koeppen climate class, e.g. Cfb")
    data_public: bool = Field(default=False, description="Publish the city's KPI values")

    @field_validator("population_year")
    @classmethod
    def _population_year(cls, value: int | None) -> int | None:
        if value is not None and not MIN_POPULATION_YEAR <= value <= _this_year():
            raise ValueError(f"must be between {MIN_POPULATION_YEAR} and {_this_year()}")
        return value

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _pairs(self) -> Any:
        given = self.model_fields_set
        if ("latitude" in given) != ("longitude" in given):
            raise ValueError("latitude and longitude come together: give both (or neither)")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude are both set or both null")
        if "population" in given and self.population is not None and "population_year" not in given:
            raise ValueError("population_year is required with population (the year the figure is for)")
        return self


class CityCreateIn(_CityFields):
    name: str = Field(min_length=1, max_length=120)
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code")
    source: str = Field(default="", max_length=1000, description="Where the profile facts come from")

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class CityUpdateIn(_CityFields):
    """Only the fields sent change; null clears an optional fact. The country and slug never change."""

    name: str = Field(default="", min_length=1, max_length=120)
    source: str = Field(default="", max_length=1000)


# ------------------------------------------------------------------------------------------- KPI values

EARLIEST_YEAR = 1900


class KpiValueIn(InputModel):
    """One observation: the KPI's value for a year (the CSV import's columns are the same)."""

    # A spreadsheet cell may hold line breaks (the CSV import quotes them): the two free-text columns allow them.
    multiline_fields = frozenset({"source", "note"})

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kpi: str = Field(min_length=1, max_length=64, description="Slug (EN-EN-AQ-1C) or official code (EN: EN: AQ: 1C)")
    data_point: str = Field(
        default="", max_length=64, description='"" for a KPI measured as a whole, else its key (e.g. "PM2.5")'
    )
    year: int = Field(description=f"{EARLIEST_YEAR} to the current year")
    value: float = Field(allow_inf_nan=False)
    data_quality: DataQuality
    source: str = Field(max_length=1000, description="Where the value comes from (report, dataset, page)")
    note: str | None = Field(
        default=None, max_length=2000, description='Omitted: an existing row keeps its note; "" clears it'
    )

    @field_validator("data_quality", mode="before")
    @classmethod
    def _quality_words(cls, value: Any) -> Any:
        # "Expert opinion", "expert-opinion" and "expert_opinion" mean the same.
        if isinstance(value, str):
            return value.strip().lower().replace(" ", "_").replace("-", "_")
        return value


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its `$defs` substituted in place (to document a loosely typed field)."""
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(copy.deepcopy(definitions[ref.removeprefix("#/$defs/")]))
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


MAX_ROWS_PER_REQUEST = 10_000


class KpiValuesPutIn(InputModel):
    """Rows are checked one by one in the service, so that a 422 lists every bad row at once."""

    # Each row is checked as a KpiValueIn (with its index), which knows its fields.
    multiline_fields = frozenset({"values"})

    model_config = ConfigDict(extra="forbid")

    values: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ROWS_PER_REQUEST,
        json_schema_extra={"items": _inline(KpiValueIn.model_json_schema())},
        description="Upserted by (KPI, data point, year): a new year adds a row, the same year updates it.",
    )


class KpiValueKeyIn(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kpi: str = Field(min_length=1, max_length=64)
    data_point: str = Field(default="", max_length=64)
    year: int = Field(ge=EARLIEST_YEAR, le=2200)


class KpiValuesVerifyIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    values: list[KpiValueKeyIn] = Field(min_length=1, max_length=MAX_ROWS_PER_REQUEST)
    verified: bool = Field(default=True, description="false withdraws the verification")


class KpiObservationOut(KpiValueOut):
    """One stored observation (a city's KPI value for a year)."""

    id: int
    note: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_observation(cls, obs: KpiObservation) -> KpiObservationOut:
        return cls(
            **KpiValueOut.from_model(obs).model_dump(),
            id=obs.id or 0,
            note=obs.note,
            created_at=obs.created_at,
            updated_at=obs.updated_at,
        )


class KpiValuesWriteOut(BaseModel):
    rows: int = Field(description="Rows received")
    created: int = Field(description="New (KPI, data point, year) rows")
    updated: int = Field(description="Existing rows whose value, quality, source or note changed")
    unchanged: int


class KpiValuesVerifyOut(BaseModel):
    rows: int
    changed: int
    unchanged: int


class KpiValueExportRow(BaseModel):
    """A row of the export: the import's columns, plus `verified` (ignored when imported again)."""

    kpi: str
    data_point: str
    year: int
    value: float
    data_quality: DataQuality
    source: str
    note: str
    verified: bool


class KpiValuesExportOut(BaseModel):
    city_id: int
    city_slug: str
    values: list[KpiValueExportRow]


class CityRefOut(BaseModel):
    """A city as other resources point at it (GET /api/v1/cities/{id} has the rest)."""

    id: int
    slug: str
    name: str
    country_code: str

    @classmethod
    def from_model(cls, city: City) -> CityRefOut:
        return cls(id=city.id or 0, slug=city.slug, name=city.name, country_code=city.country_code)
