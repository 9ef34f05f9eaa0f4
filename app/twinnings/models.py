"""The twin-city programme: pairings of cities whose strengths cover each other's weaknesses."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from app.core.models import UTCDateTime, children, created_at_field, enum_column, updated_at_field


class TwinningStatus(StrEnum):
    proposed = "proposed"
    accepted = "accepted"
    active = "active"
    completed = "completed"
    declined = "declined"
    lapsed = "lapsed"


class Twinning(SQLModel, table=True):
    __tablename__ = "twinning"
    __table_args__ = (sa.CheckConstraint("city_a_id <> city_b_id", name="two_cities"),)

    id: int | None = Field(default=None, primary_key=True)
    city_a_id: int = Field(foreign_key="city.id", index=True)
    city_b_id: int = Field(foreign_key="city.id", index=True)
    focus_categories: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    rationale: str = Field(default="")
    status: TwinningStatus = Field(
        default=TwinningStatus.proposed, sa_type=enum_column(TwinningStatus, "twinning_status"), index=True
    )
    proposed_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    # The city that proposed, or None when the programme did.
    proposed_by_city_id: int | None = Field(default=None, foreign_key="city.id")
    proposed_at: datetime = Field(sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    is_demo: bool = Field(default=False)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    focus_kpis: list["TwinningKpi"] = Relationship(sa_relationship_kwargs=children())


class TwinningKpi(SQLModel, table=True):
    __tablename__ = "twinning_kpi"

    twinning_id: int = Field(foreign_key="twinning.id", primary_key=True, ondelete="CASCADE")
    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True, index=True)


# ------------------------------------------------------------------------------------------- the plan
# A twinning's plan (docs/architecture.md, "Twinning plans"): activities the two cities run together, each
# aimed at KPIs; a milestone is an activity with `milestone` set, due on its end date (no table of its own).
# On completion the programme records the outcome, one row per twinning.


class ActivityStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"


class TwinningActivity(SQLModel, table=True):
    __tablename__ = "twinning_activity"
    __table_args__ = (sa.CheckConstraint("start_date <= end_date", name="dates_in_order"),)

    id: int | None = Field(default=None, primary_key=True)
    twinning_id: int = Field(foreign_key="twinning.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=200)
    description: str = Field(default="")
    start_date: date
    end_date: date
    milestone: bool = Field(default=False)
    status: ActivityStatus = Field(
        default=ActivityStatus.planned, sa_type=enum_column(ActivityStatus, "twinning_activity_status")
    )
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    kpis: list["TwinningActivityKpi"] = Relationship(sa_relationship_kwargs=children())


class TwinningActivityKpi(SQLModel, table=True):
    __tablename__ = "twinning_activity_kpi"

    activity_id: int = Field(foreign_key="twinning_activity.id", primary_key=True, ondelete="CASCADE")
    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True, index=True)


class TwinningOutcome(SQLModel, table=True):
    """What a completed twinning achieved, in the programme's words; one per twinning, replaced by a PUT."""

    __tablename__ = "twinning_outcome"

    twinning_id: int = Field(foreign_key="twinning.id", primary_key=True, ondelete="CASCADE")
    summary: str
    # [{"kpi_id": 12, "note": "..."}], one entry per KPI the plan aims at that has a note, in KPI code order.
    kpi_notes: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    recorded_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
