"""What the API says about procurement guidelines, and what its editors write (input schemas at the end)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.case_studies.models import ContentStatus
from app.core.languages import LocalizedOut
from app.core.text import InputModel
from app.guidelines.models import ProcurementGuideline, ProcurementStage
from app.kpis.schemas import KpiRefOut


class GuidelineFilters(BaseModel):
    """The list filters of GET /api/v1/procurement-guidelines (its query model) and of GraphQL's
    `procurementGuidelines` (whose arguments are validated by it): each constraint once, so both faces refuse
    the same values with the same message (docs/architecture.md §4, "Each write declared once")."""

    model_config = ConfigDict(frozen=True)

    stage: Annotated[ProcurementStage | None, Field(description="Procurement stage")] = None
    category: Annotated[str | None, Field(max_length=64, description='e.g. "Water and Sanitation"')] = None
    kpi: Annotated[str | None, Field(max_length=64, description="Bears on this KPI (slug or official code)")] = None
    language: Annotated[str | None, Field(pattern="^[A-Za-z]{2}$", description="ISO 639-1 code")] = None


class GuidelineBaseOut(LocalizedOut):
    """The guideline's own fields (the GraphQL type, whose KPIs come from a DataLoader)."""

    translated_fields = ("title", "summary", "body")

    id: int
    slug: str
    title: str
    stage: ProcurementStage
    summary: str
    body: str
    categories: list[str]
    language: str = Field(description="The language of the answer (BCP 47): the original's, or a translation's")
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


# ------------------------------------------------------------------------------------------------- input


class GuidelineContentIn(InputModel):
    """Omitted fields are left as they are; lists replace the whole set. Status, version and slug are the
    server's (unknown fields are refused)."""

    multiline_fields = frozenset({"summary", "body"})

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    stage: ProcurementStage | None = None
    summary: str | None = Field(default=None, max_length=5000)
    body: str | None = Field(default=None, max_length=100000)
    language: str | None = Field(default=None, pattern="^[A-Za-z]{2}$", description="ISO 639-1")
    source: str | None = Field(default=None, max_length=2000)
    source_url: str | None = Field(default=None, max_length=500, pattern=r"^(https?://[^\s]+)?$")
    categories: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=22, description="KPI categories of the framework"
    )
    kpis: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=100, description="KPI slugs or official codes"
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> GuidelineContentIn:
        nulls = sorted(n for n in self.model_fields_set if getattr(self, n) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may be omitted but not null")
        return self


class GuidelineCreateIn(GuidelineContentIn):
    title: str = Field(min_length=1, max_length=300)
    stage: ProcurementStage


class GuidelineUpdateIn(GuidelineContentIn):
    pass
