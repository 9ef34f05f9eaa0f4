"""What the API says about twinnings, and what it takes to propose one or act on it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.cities.schemas import CityRefOut
from app.core.ids import Id
from app.core.text import InputModel
from app.kpis.models import Direction
from app.kpis.schemas import KpiRefOut
from app.twinnings.models import ActivityStatus, Twinning, TwinningActivity, TwinningOutcome, TwinningStatus


class TwinningBaseOut(BaseModel):
    """The twinning's own fields (the GraphQL type, whose cities and KPIs come from DataLoaders)."""

    id: int
    city_a_id: int
    city_b_id: int
    focus_categories: list[str]
    rationale: str
    status: TwinningStatus
    proposed_by_city_id: int | None = Field(description="The city that proposed it; null when the programme did.")
    proposed_at: datetime
    decided_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    is_demo: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, twinning: Twinning) -> TwinningBaseOut:
        return cls.model_validate(twinning, from_attributes=True)


class TwinningOut(TwinningBaseOut):
    city_a: CityRefOut
    city_b: CityRefOut
    focus_kpis: list[KpiRefOut] = Field(description="In KPI code order")


class TwinningCreateIn(InputModel):
    multiline_fields = frozenset({"rationale"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    city_a_id: Id
    city_b_id: Id
    focus_kpis: list[str] = Field(
        default_factory=list, max_length=30, description="KPI slugs or official codes the twinning works on"
    )
    focus_categories: list[str] = Field(
        default_factory=list, max_length=20, description='KPI categories, e.g. "Water and Sanitation"'
    )
    rationale: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _two_cities(self) -> TwinningCreateIn:
        if self.city_a_id == self.city_b_id:
            raise ValueError("a twinning pairs two different cities: city_a_id and city_b_id are the same")
        return self


class TwinningActionIn(InputModel):
    """An optional note, kept in the audit trail (e.g. why a twinning was declined)."""

    multiline_fields = frozenset({"note"})

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(default="", max_length=2000)


# ------------------------------------------------------------------------------------------- the plan
# docs/architecture.md, "Twinning plans".

KPI_REFS_DESCRIPTION = "KPI slugs or official codes the activity aims at (GET /api/v1/kpis lists them)"


def _dates_in_order(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise ValueError(f"start_date ({start.isoformat()}) is after end_date ({end.isoformat()})")


class ActivityCreateIn(InputModel):
    """An activity of a twinning's plan; a milestone is an activity with `milestone` true, due on end_date."""

    multiline_fields = frozenset({"description"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200, examples=["Joint ozone monitoring campaign"])
    description: str = Field(default="", max_length=5000)
    start_date: date
    end_date: date = Field(description="On or after start_date; a milestone's due date")
    kpis: list[str] = Field(default_factory=list, max_length=20, description=KPI_REFS_DESCRIPTION)
    status: ActivityStatus = ActivityStatus.planned
    milestone: bool = Field(default=False, description="A milestone: something due on end_date")

    @model_validator(mode="after")
    def _in_order(self) -> ActivityCreateIn:
        _dates_in_order(self.start_date, self.end_date)
        return self


class ActivityUpdateIn(InputModel):
    """Only the fields sent change; the dates, old or new, must stay in order (start_date <= end_date)."""

    multiline_fields = frozenset({"description"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(default="", min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    start_date: date = Field(default_factory=date.today)
    end_date: date = Field(default_factory=date.today)
    kpis: list[str] = Field(default_factory=list, max_length=20, description=KPI_REFS_DESCRIPTION)
    status: ActivityStatus = ActivityStatus.planned
    milestone: bool = False

    @model_validator(mode="after")
    def _in_order(self) -> ActivityUpdateIn:
        if {"start_date", "end_date"} <= self.model_fields_set:
            _dates_in_order(self.start_date, self.end_date)
        return self


class ActivityBaseOut(BaseModel):
    id: int
    twinning_id: int
    title: str
    description: str
    start_date: date
    end_date: date
    milestone: bool
    status: ActivityStatus
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, activity: TwinningActivity) -> ActivityBaseOut:
        return cls.model_validate(activity, from_attributes=True)


class ActivityOut(ActivityBaseOut):
    kpis: list[KpiRefOut] = Field(description="The KPIs it aims at, in KPI code order")


class OutcomeKpiNoteIn(InputModel):
    multiline_fields = frozenset({"note"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kpi: str = Field(min_length=1, max_length=64, description="A KPI the plan aims at (slug or official code)")
    note: str = Field(min_length=1, max_length=2000)


class OutcomeIn(InputModel):
    """What the twinning achieved: a summary, and optional notes on the KPIs its activities aimed at."""

    multiline_fields = frozenset({"summary"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    summary: str = Field(min_length=1, max_length=10_000)
    kpi_notes: list[OutcomeKpiNoteIn] = Field(default_factory=list, max_length=60)


class OutcomeKpiNoteOut(BaseModel):
    kpi: KpiRefOut
    note: str


class OutcomeOut(BaseModel):
    twinning_id: int
    summary: str
    kpi_notes: list[OutcomeKpiNoteOut] = Field(description="In KPI code order")
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, outcome: TwinningOutcome, kpis: dict[int, KpiRefOut]) -> OutcomeOut:
        notes = [OutcomeKpiNoteOut(kpi=kpis[int(n["kpi_id"])], note=str(n["note"])) for n in outcome.kpi_notes]
        return cls(
            twinning_id=outcome.twinning_id,
            summary=outcome.summary,
            kpi_notes=sorted(notes, key=lambda n: n.kpi.code),
            version=outcome.version,
            created_at=outcome.created_at,
            updated_at=outcome.updated_at,
        )


class ValueAtOut(BaseModel):
    year: int
    value: float


class CityProgressOut(BaseModel):
    city_id: int
    visible: bool = Field(description="Whether you may read this city's KPI values (false: before and after null)")
    before: ValueAtOut | None = Field(description="The latest value of a year ending at or before the baseline")
    after: ValueAtOut | None = Field(description="The latest value of a year ending at or after the end")
    change: float | None = Field(description="after - before, when both are known")
    improved: bool | None = Field(
        description="Whether the change goes the data point's better way (null: no change known, or no such way)"
    )


class DataPointProgressOut(BaseModel):
    key: str = Field(description='"" for a KPI measured as a whole')
    unit: str
    direction: Direction
    city_a: CityProgressOut
    city_b: CityProgressOut


class KpiProgressOut(BaseModel):
    kpi: KpiRefOut
    unit: str
    direction: Direction
    outcome_note: str | None = Field(description="The outcome's note on this KPI, if any")
    data_points: list[DataPointProgressOut]


class ProgressOut(BaseModel):
    """Each KPI the plan aims at, both cities' values before and after, side by side."""

    twinning_id: int
    baseline_at: datetime = Field(description="The twinning's start (else its acceptance, else its proposal)")
    end_at: datetime = Field(description="The twinning's completion, else now")
    completed: bool
    kpis: list[KpiProgressOut] = Field(description="In KPI code order")


class TwinningFilters(BaseModel):
    """The list filters of GET /api/v1/twinnings (its query model) and of GraphQL's `twinnings` (its arguments are
    validated by it): each constraint once, so both faces refuse the same values alike (docs/architecture.md)."""

    model_config = ConfigDict(frozen=True)

    city: Annotated[Id | None, Field(description="City id, on either side")] = None
    status: TwinningStatus | None = None
    kpi: Annotated[str | None, Field(max_length=64, description="Focus KPI (slug or official code)")] = None
