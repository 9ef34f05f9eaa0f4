"""Procurement guidelines: practical advice for each stage of buying a solution."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, Relationship, SQLModel

from app.case_studies.models import ContentStatus
from app.core.models import children, created_at_field, enum_column, updated_at_field


class ProcurementStage(StrEnum):
    needs_assessment = "needs_assessment"
    market_consultation = "market_consultation"
    tender_design = "tender_design"
    evaluation = "evaluation"
    contract_management = "contract_management"


class ProcurementGuideline(SQLModel, table=True):
    __tablename__ = "procurement_guideline"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=160, unique=True)
    title: str = Field(max_length=300)
    stage: ProcurementStage = Field(sa_type=enum_column(ProcurementStage, "procurement_stage"), index=True)
    summary: str = Field(default="")
    body: str = Field(default="")
    language: str = Field(default="en", max_length=8)
    source: str = Field(default="")
    source_url: str = Field(default="", max_length=500)
    status: ContentStatus = Field(
        default=ContentStatus.draft, sa_type=enum_column(ContentStatus, "guideline_status"), index=True
    )
    is_demo: bool = Field(default=False)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    categories: list["GuidelineCategory"] = Relationship(sa_relationship_kwargs=children())
    kpis: list["GuidelineKpi"] = Relationship(sa_relationship_kwargs=children())


class GuidelineCategory(SQLModel, table=True):
    __tablename__ = "guideline_category"

    guideline_id: int = Field(foreign_key="procurement_guideline.id", primary_key=True, ondelete="CASCADE")
    category: str = Field(primary_key=True, max_length=64, index=True)


class GuidelineKpi(SQLModel, table=True):
    __tablename__ = "guideline_kpi"

    guideline_id: int = Field(foreign_key="procurement_guideline.id", primary_key=True, ondelete="CASCADE")
    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True, index=True)
