"""The KPI framework: KPIs, their data points and the benchmarks a city is scored against."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from app.core.models import created_at_field, enum_column, no_lazy, updated_at_field


class KpiTier(StrEnum):
    core = "core"
    advanced = "advanced"


class Direction(StrEnum):
    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"
    # The benchmark itself is best (gender pay ratio at parity, 1.0).
    target_is_best = "target_is_best"
    # The sources do not say which way is better: never scored.
    undetermined = "undetermined"


class BenchmarkBasis(StrEnum):
    # Member names equal the values, so GraphQL shows the same words as REST.
    SDG = "SDG"
    WHO = "WHO"
    EU = "EU"
    OECD = "OECD"
    UN = "UN"
    best_city = "best_city"
    city_target = "city_target"
    other = "other"


class KpiFramework(SQLModel, table=True):
    __tablename__ = "kpi_framework"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    publisher: str = Field(default="", max_length=200)
    source_url: str = Field(default="", max_length=500)
    description: str = Field(default="")
    created_at: datetime = created_at_field()

    kpis: list["Kpi"] = Relationship(back_populates="framework", sa_relationship_kwargs=no_lazy())


class Kpi(SQLModel, table=True):
    __tablename__ = "kpi"
    __table_args__ = (sa.UniqueConstraint("framework_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    framework_id: int = Field(foreign_key="kpi_framework.id", index=True)
    code: str = Field(max_length=40)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    dimension: str = Field(max_length=64, index=True)
    subdimension: str = Field(max_length=64, index=True)
    category: str = Field(max_length=64, index=True)
    tier: KpiTier = Field(sa_type=enum_column(KpiTier, "kpi_tier"), index=True)
    unit: str = Field(default="", max_length=200)
    direction: Direction = Field(sa_type=enum_column(Direction, "kpi_direction"))
    official_sdg_reference: str = Field(default="", max_length=64)
    # Where each field was read from, as the reference list records it ("read: flipbook p.23", ...).
    provenance: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    notes: str = Field(default="")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    framework: "KpiFramework" = Relationship(back_populates="kpis", sa_relationship_kwargs=no_lazy())
    sdgs: list["KpiSdg"] = Relationship(
        sa_relationship_kwargs={**no_lazy(), "cascade": "all, delete-orphan", "order_by": "KpiSdg.sdg"}
    )
    data_points: list["KpiDataPoint"] = Relationship(
        back_populates="kpi",
        sa_relationship_kwargs={
            **no_lazy(),
            "cascade": "all, delete-orphan",
            "order_by": "KpiDataPoint.position",
        },
    )


class KpiSdg(SQLModel, table=True):
    """A UN Sustainable Development Goal (1-17) a KPI bears on."""

    __tablename__ = "kpi_sdg"
    __table_args__ = (sa.CheckConstraint("sdg BETWEEN 1 AND 17", name="sdg_range"),)

    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True, ondelete="CASCADE")
    sdg: int = Field(primary_key=True, index=True)


class KpiDataPoint(SQLModel, table=True):
    """What is measured. A KPI has one data point with an empty key, or several (Air Pollution: PM2.5, ...)."""

    __tablename__ = "kpi_data_point"
    __table_args__ = (sa.UniqueConstraint("kpi_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    kpi_id: int = Field(foreign_key="kpi.id", index=True, ondelete="CASCADE")
    # "" for a KPI measured as a whole, else the data point's name as the U4SSC reports give it ("PM2.5").
    key: str = Field(default="", max_length=64)
    position: int = Field(default=0)
    unit: str = Field(default="", max_length=200)
    # Overrides the KPI's direction where the data points differ (Solid Waste Treatment: recycled vs landfill).
    direction: Direction = Field(sa_type=enum_column(Direction, "data_point_direction"))

    kpi: "Kpi" = Relationship(back_populates="data_points", sa_relationship_kwargs=no_lazy())
    benchmark: Optional["KpiBenchmark"] = Relationship(
        back_populates="data_point",
        sa_relationship_kwargs={**no_lazy(), "uselist": False, "cascade": "all, delete-orphan"},
    )


class KpiBenchmark(SQLModel, table=True):
    """The target a data point is scored against. U4SSC does not publish its own targets: the seeded ones
    are the platform's documented defaults (`is_platform_default`), which an admin may replace."""

    __tablename__ = "kpi_benchmark"

    id: int | None = Field(default=None, primary_key=True)
    data_point_id: int = Field(foreign_key="kpi_data_point.id", unique=True, ondelete="CASCADE")
    # None: no defensible number exists (the basis says why); the data point is then not scored.
    value: float | None = Field(default=None)
    # For yes/no KPIs the benchmark reads "Yes" and the value is 1.
    value_label: str = Field(default="", max_length=32)
    basis_type: BenchmarkBasis = Field(sa_type=enum_column(BenchmarkBasis, "benchmark_basis"))
    basis: str = Field(default="")
    source: str = Field(default="")
    confidence: str = Field(default="", max_length=16)
    is_platform_default: bool = Field(default=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    data_point: "KpiDataPoint" = Relationship(back_populates="benchmark", sa_relationship_kwargs=no_lazy())
