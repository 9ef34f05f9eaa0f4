"""What the API says about twinnings (output only; input schemas come with the writes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.solutions.schemas import CityRefOut, KpiRefOut
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
