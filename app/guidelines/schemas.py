"""What the API says about procurement guidelines (output only; input schemas come with the writes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.case_studies.models import ContentStatus
from app.guidelines.models import ProcurementGuideline, ProcurementStage
from app.solutions.schemas import KpiRefOut


class GuidelineBaseOut(BaseModel):
    """The guideline's own fields (the GraphQL type, whose KPIs come from a DataLoader)."""

    id: int
    slug: str
    title: str
    stage: ProcurementStage
    summary: str
    body: str
    categories: list[str]
    language: str = Field(description="ISO 639-1")
    source: str
    source_url: str
    status: ContentStatus = Field(description="Only `published` guidelines are public.")
    is_demo: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, guideline: ProcurementGuideline) -> GuidelineBaseOut:
        return cls(
            id=guideline.id or 0,
            slug=guideline.slug,
            title=guideline.title,
            stage=guideline.stage,
            summary=guideline.summary,
            body=guideline.body,
            categories=sorted(c.category for c in guideline.categories),
            language=guideline.language,
            source=guideline.source,
            source_url=guideline.source_url,
            status=guideline.status,
            is_demo=guideline.is_demo,
            version=guideline.version,
            created_at=guideline.created_at,
            updated_at=guideline.updated_at,
        )


class GuidelineOut(GuidelineBaseOut):
    kpis: list[KpiRefOut] = Field(description="The KPIs it bears on, in code order")
