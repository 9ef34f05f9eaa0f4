"""What the API says about twinnings, and what it takes to propose one or act on it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.cities.schemas import CityRefOut
from app.core.ids import Id
from app.core.text import InputModel
from app.kpis.schemas import KpiRefOut
from app.twinnings.models import Twinning, TwinningStatus


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


class TwinningFilters(BaseModel):
    """The list filters of GET /api/v1/twinnings (its query model) and of GraphQL's `twinnings` (its arguments are
    validated by it): each constraint once, so both faces refuse the same values alike (docs/architecture.md)."""

    model_config = ConfigDict(frozen=True)

    city: Annotated[Id | None, Field(description="City id, on either side")] = None
    status: TwinningStatus | None = None
    kpi: Annotated[str | None, Field(max_length=64, description="Focus KPI (slug or official code)")] = None
