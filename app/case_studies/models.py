"""Case studies: what a city did, with which solutions, and the KPI outcomes it measured."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from app.core.models import children, created_at_field, enum_column, no_lazy, updated_at_field

if TYPE_CHECKING:
    from app.cities.models import City
    from app.kpis.models import Kpi, KpiDataPoint


class ContentStatus(StrEnum):
    """Editorial content (case studies, guidelines): only published content is public and searchable."""

    draft = "draft"
    published = "published"
    archived = "archived"


class CaseStudy(SQLModel, table=True):
    __tablename__ = "case_study"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=160, unique=True)
    title: str = Field(max_length=300)
    # None when the source does not say where the project ran (one of the U4SSC cases).
    city_id: int | None = Field(default=None, foreign_key="city.id", index=True)
    summary: str = Field(default="")
    body: str = Field(default="")
    year: int | None = Field(default=None, index=True)
    language: str = Field(default="en", max_length=8)
    source: str = Field(default="")
    source_url: str = Field(default="", max_length=500)
    status: ContentStatus = Field(
        default=ContentStatus.draft, sa_type=enum_column(ContentStatus, "case_study_status"), index=True
    )
    is_demo: bool = Field(default=False)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    city: Optional["City"] = Relationship(sa_relationship_kwargs=no_lazy())
    solutions: list["CaseStudySolution"] = Relationship(sa_relationship_kwargs=children())
    outcomes: list["CaseStudyOutcome"] = Relationship(back_populates="case_study", sa_relationship_kwargs=children())


class CaseStudySolution(SQLModel, table=True):
    __tablename__ = "case_study_solution"

    case_study_id: int = Field(foreign_key="case_study.id", primary_key=True, ondelete="CASCADE")
    solution_id: int = Field(foreign_key="solution.id", primary_key=True, index=True, ondelete="CASCADE")


class CaseStudyOutcome(SQLModel, table=True):
    """A KPI measured before and after: what turns an impact claim into a verified one."""

    __tablename__ = "case_study_outcome"
    __table_args__ = (sa.UniqueConstraint("case_study_id", "kpi_id", "data_point_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_study_id: int = Field(foreign_key="case_study.id", index=True, ondelete="CASCADE")
    kpi_id: int = Field(foreign_key="kpi.id", index=True)
    data_point_id: int | None = Field(default=None, foreign_key="kpi_data_point.id")
    value_before: float
    value_after: float
    year_before: int | None = None
    year_after: int | None = None
    note: str = Field(default="")

    case_study: "CaseStudy" = Relationship(back_populates="outcomes", sa_relationship_kwargs=no_lazy())
    kpi: "Kpi" = Relationship(sa_relationship_kwargs=no_lazy())
    data_point: Optional["KpiDataPoint"] = Relationship(sa_relationship_kwargs=no_lazy())
