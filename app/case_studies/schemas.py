"""What the API says about case studies (output only; input schemas come with the writes).

`CaseStudyBaseOut` is the row's own fields (the GraphQL type, whose city, solutions and outcomes come from
DataLoaders); `CaseStudyOut` adds the city (a REST list item); `CaseStudyDetailOut` adds outcomes and solutions.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.case_studies.models import CaseStudy, CaseStudyOutcome, ContentStatus
from app.solutions.schemas import CityRefOut, KpiRefOut, SolutionRefOut


class CaseStudyBaseOut(BaseModel):
    id: int
    slug: str
    title: str
    city_id: int | None = Field(description="null when the source does not say where it ran")
    summary: str
    body: str
    year: int | None
    language: str = Field(description="ISO 639-1")
    source: str
    source_url: str
    status: ContentStatus = Field(description="Only `published` case studies are public.")
    is_demo: bool = Field(description="True for case studies invented for the demo catalogue")
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, case: CaseStudy) -> CaseStudyBaseOut:
        return cls.model_validate(case, from_attributes=True)


class CaseStudyOut(CaseStudyBaseOut):
    city: CityRefOut | None

    @classmethod
    def from_model(cls, case: CaseStudy) -> CaseStudyOut:
        city = CityRefOut.from_model(case.city) if case.city is not None else None
        return cls(**CaseStudyBaseOut.from_model(case).model_dump(), city=city)


class OutcomeOut(BaseModel):
    """A KPI measured before and after."""

    kpi: KpiRefOut
    data_point: str = Field(description='"" for the KPI as a whole')
    value_before: float
    value_after: float
    year_before: int | None
    year_after: int | None
    note: str

    @classmethod
    def from_model(cls, outcome: CaseStudyOutcome) -> OutcomeOut:
        return cls(
            kpi=KpiRefOut.from_model(outcome.kpi),
            data_point=outcome.data_point.key if outcome.data_point is not None else "",
            value_before=outcome.value_before,
            value_after=outcome.value_after,
            year_before=outcome.year_before,
            year_after=outcome.year_after,
            note=outcome.note,
        )


class CaseStudyDetailOut(CaseStudyOut):
    outcomes: list[OutcomeOut]
    solutions: list[SolutionRefOut] = Field(description="The solutions it used that you may see")
