"""What the API says about KPIs (reference data), and the one write: an admin's benchmark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, field_validator

from app.core.languages import LocalizedOut
from app.core.text import InputModel
from app.kpis.models import BenchmarkBasis, Direction, Kpi, KpiBenchmark, KpiDataPoint, KpiTier

# The benchmark row has no version column: its version is `updated_at` in microseconds since the epoch (the
# service's conditional update compares it).
VERSION_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VERSION_UNIT = timedelta(microseconds=1)
# A benchmark's rating; matching weighs a gap by it (app.matching.weights: benchmark_high, ...).
BENCHMARK_RATINGS = ("high", "medium", "low", "")


def benchmark_version(benchmark: KpiBenchmark) -> int:
    return (benchmark.updated_at - VERSION_EPOCH) // VERSION_UNIT


class KpiFilters(BaseModel):
    """The list filters of GET /api/v1/kpis (its query model) and of GraphQL's `kpis` (whose arguments are
    validated by it): each constraint once, so both faces refuse the same values with the same message
    (docs/architecture.md §4, "Each write declared once")."""

    model_config = ConfigDict(frozen=True)

    dimension: Annotated[str | None, Field(description="Economy, Environment, Society and Culture")] = None
    subdimension: Annotated[str | None, Field(description='e.g. "ICT", "Energy"')] = None
    category: Annotated[str | None, Field(description='e.g. "Air Quality"')] = None
    tier: Annotated[KpiTier | None, Field(description="core or advanced")] = None
    sdg: Annotated[int | None, Field(ge=1, le=17, description="UN SDG goal number")] = None
    framework: Annotated[str | None, Field(description='KPI framework code, e.g. "U4SSC"')] = None


class BenchmarkOut(BaseModel):
    value: FiniteFloat | None = Field(description="Target value; null when no defensible number exists.")
    value_label: str = Field(description='Label for yes/no targets ("Yes"), else empty.')
    basis_type: BenchmarkBasis
    basis: str
    source: str
    confidence: str
    is_platform_default: bool = Field(
        description="True: a default chosen by the platform from public sources, NOT an official U4SSC target."
    )
    version: str = Field(
        pattern=r"^\d+$",
        description="The version an update must name: the number in the ETag (If-Match), GraphQL's "
        "updateBenchmark(expectedVersion:). Digits in a string, as it is too large for a GraphQL Int "
        "(the microseconds of the last change).",
    )

    @classmethod
    def from_model(cls, bm: KpiBenchmark) -> BenchmarkOut:
        return cls(
            value=bm.value,
            value_label=bm.value_label,
            basis_type=bm.basis_type,
            basis=bm.basis,
            source=bm.source,
            confidence=bm.confidence,
            is_platform_default=bm.is_platform_default,
            version=str(benchmark_version(bm)),
        )


class DataPointOut(BaseModel):
    key: str = Field(description='"" when the KPI is measured as a whole, else e.g. "PM2.5".')
    unit: str
    direction: Direction
    benchmark: BenchmarkOut | None


class KpiOut(LocalizedOut):
    translated_fields = ("name", "notes")

    slug: str = Field(examples=["EN-EN-AQ-1C"])
    code: str = Field(examples=["EN: EN: AQ: 1C"])
    framework: str
    name: str
    dimension: str
    subdimension: str
    category: str
    tier: KpiTier
    unit: str
    direction: Direction
    sdgs: list[int]
    official_sdg_reference: str
    data_points: list[DataPointOut]
    provenance: dict[str, Any]
    notes: str

    @classmethod
    def from_model(cls, kpi: Kpi, framework_code: str) -> KpiOut:
        return cls(
            slug=kpi.slug,
            code=kpi.code,
            framework=framework_code,
            name=kpi.name,
            dimension=kpi.dimension,
            subdimension=kpi.subdimension,
            category=kpi.category,
            tier=kpi.tier,
            unit=kpi.unit,
            direction=kpi.direction,
            sdgs=[s.sdg for s in kpi.sdgs],
            official_sdg_reference=kpi.official_sdg_reference,
            data_points=[_data_point(dp) for dp in kpi.data_points],
            provenance=kpi.provenance,
            notes=kpi.notes,
        )


def _data_point(dp: KpiDataPoint) -> DataPointOut:
    bm = dp.benchmark
    return DataPointOut(
        key=dp.key,
        unit=dp.unit,
        direction=dp.direction,
        benchmark=None if bm is None else BenchmarkOut.from_model(bm),
    )


class BenchmarkIn(InputModel):
    """An admin's benchmark for one data point: it replaces the platform's default (and is marked as not one)."""

    model_config = ConfigDict(extra="forbid")

    value: FiniteFloat | None = Field(description="Target value; null when no defensible number exists (not scored).")
    value_label: str = Field(default="", max_length=32, description='Label for yes/no targets ("Yes").')
    basis_type: BenchmarkBasis
    basis: str = Field(min_length=1, max_length=2000, description="Why this number: the standard or city it is from.")
    source: str = Field(default="", max_length=2000, description="Where it is published (a citation or URL).")
    confidence: str = Field(
        default="",
        max_length=16,
        # The validator's rule in the schema too, case and spaces forgiven (ECMA-262 has no (?i); tabs are
        # control characters here).
        pattern=r"^ *([Hh][Ii][Gg][Hh]|[Mm][Ee][Dd][Ii][Uu][Mm]|[Ll][Oo][Ww])? *$",
        description='How defensible the number is: "high" (an international numeric target), "medium", "low" '
        '(a convention), or "" (unrated). Matching weighs each gap by it (see the BENCHMARK_* settings).',
    )

    @field_validator("confidence")
    @classmethod
    def _known_rating(cls, value: str) -> str:
        rating = value.strip().lower()
        if rating not in BENCHMARK_RATINGS:
            raise ValueError('must be "high", "medium", "low" or "" (unrated)')
        return rating


class KpiRefOut(BaseModel):
    """A KPI as other resources point at it (GET /api/v1/kpis/{slug} has the rest)."""

    slug: str = Field(examples=["EN-EN-AQ-1C"])
    code: str = Field(examples=["EN: EN: AQ: 1C"])
    name: str

    @classmethod
    def from_model(cls, kpi: Kpi) -> KpiRefOut:
        return cls(slug=kpi.slug, code=kpi.code, name=kpi.name)
