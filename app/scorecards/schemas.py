"""What the API says about a scorecard (the U4SSC method, docs/design.md §4)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.matches.schemas import CityRef


class BenchmarkOut(BaseModel):
    value: float | None = Field(description="The target; null when no defensible number exists (see basis)")
    value_label: str
    basis_type: str = Field(description="SDG, WHO, EU, OECD, UN, best_city, city_target or other")
    basis: str
    source: str
    is_platform_default: bool = Field(
        description="True: a documented default of the platform, not a U4SSC target (U4SSC does not publish them)"
    )


class DataPointScoreOut(BaseModel):
    key: str = Field(description='"" for a KPI measured as a whole, else the data point (PM2.5, ...)')
    unit: str
    direction: str = Field(description="higher_is_better, lower_is_better, target_is_best or undetermined")
    value: float | None
    year: int | None = Field(description="Year of the value used")
    data_quality: str | None
    verified: bool
    benchmark: BenchmarkOut | None
    scored: bool
    pass_fail: bool = Field(description="Scored pass/fail: a lower-is-better data point with a benchmark of 0")
    achievement: float | None = Field(description="a in [0, 1]")
    points: int | None = Field(description="1 below 33 %, 2 from 33 %, 3 from 66 %, 4 from 95 %")
    band: str | None
    gap: float | None = Field(description="g = 1 - a")
    confidence: float = Field(description="Confidence in the value (quality, verification); 0 without a value")
    missing_reason_code: str | None = Field(
        description="no_value, no_benchmark, undetermined_direction, zero_benchmark or negative_benchmark"
    )
    missing_reason: str | None


class KpiScoreOut(BaseModel):
    kpi: str = Field(description="KPI slug", examples=["EC-I-WS-3C"])
    code: str = Field(examples=["EC: I: WS: 3C"])
    name: str
    dimension: str
    subdimension: str
    category: str
    tier: str
    achievement: float | None = Field(description="Mean achievement of the scored data points")
    gap: float | None
    points: int | None = Field(description="Points of the mean achievement (roll-ups count data points)")
    band: str | None
    confidence: float
    n_scored: int = Field(description="Scored data points")
    data_points: list[DataPointScoreOut]


class RollUpOut(BaseModel):
    level: str = Field(description="category, subdimension, dimension or overall")
    dimension: str | None
    subdimension: str | None
    category: str | None
    points: int
    max_points: int = Field(description="4 x scored items")
    n_scored: int = Field(description="Scored items (data points)")
    ratio: float | None = Field(description="points / max_points; null when nothing is scored")
    percent: float | None
    band: str | None
    kpis: list[str] = Field(description="Slugs of the group's KPIs")
    missing_kpis: list[str] = Field(description="Slugs of the group's KPIs with no scored data point")


class MissingOut(BaseModel):
    kpi: str
    code: str
    name: str
    data_point: str
    reason_code: str
    reason: str


class ScorecardOut(BaseModel):
    city: CityRef
    year: int | None = Field(description="null: the latest value of each data point; else the latest up to it")
    method_version: str
    kpis: list[KpiScoreOut]
    categories: list[RollUpOut]
    subdimensions: list[RollUpOut]
    dimensions: list[RollUpOut]
    overall: RollUpOut
    missing: list[MissingOut] = Field(description="Every data point left out of the scores, and why")
