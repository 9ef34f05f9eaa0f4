"""What the API says about case studies, and what its editors write (input schemas at the end).

`CaseStudyBaseOut` is the row's own fields (the GraphQL type, whose city, solutions and outcomes come from
DataLoaders); `CaseStudyOut` adds the city (a REST list item); `CaseStudyDetailOut` adds outcomes and solutions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator

from app.case_studies.models import CaseStudy, CaseStudyOutcome, ContentStatus
from app.cities.schemas import CityRefOut
from app.core.ids import Id
from app.core.languages import LocalizedOut
from app.core.text import InputModel
from app.kpis.schemas import KpiRefOut
from app.solutions.schemas import SolutionRefOut


class CaseStudyBaseOut(LocalizedOut):
    translated_fields = ("title", "summary", "body")

    id: int
    slug: str
    title: str
    city_id: int | None = Field(description="null when the source does not say where it ran")
    summary: str
    body: str
    year: int | None
    language: str = Field(description="The language of the answer (BCP 47): the original's, or a translation's")
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


# ------------------------------------------------------------------------------------------------- input
# Case studies are the platform's editorial content (admins write them). Status, version, slug and
# timestamps are the server's: unknown fields are refused (422).

SourceUrl = Annotated[str, Field(max_length=500, pattern=r"^(https?://[^\s]+)?$", description='http(s) URL, or ""')]
Year = Annotated[int, Field(ge=1900, le=2100)]


class OutcomeIn(InputModel):
    """A KPI measured before and after: what can make a solution's impact claim on that KPI verified."""

    multiline_fields = frozenset({"note"})

    model_config = ConfigDict(extra="forbid")

    kpi: str = Field(min_length=1, max_length=64, description="KPI slug or official code")
    data_point: str = Field(default="", max_length=64, description='"" for the KPI as a whole')
    value_before: FiniteFloat
    value_after: FiniteFloat
    year_before: Year | None = None
    year_after: Year | None = None
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _years_in_order(self) -> OutcomeIn:
        if self.year_before is not None and self.year_after is not None and self.year_after < self.year_before:
            raise ValueError("year_after is before year_before")
        return self


class CaseStudyContentIn(InputModel):
    """Omitted fields are left as they are; city_id and year may be null (the source does not say)."""

    multiline_fields = frozenset({"summary", "body"})

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    city_id: Id | None = None
    summary: str | None = Field(default=None, max_length=5000)
    body: str | None = Field(default=None, max_length=100000)
    year: Year | None = None
    language: str | None = Field(default=None, pattern="^[A-Za-z]{2}$", description="ISO 639-1")
    source: str | None = Field(default=None, max_length=2000)
    source_url: SourceUrl | None = None
    outcomes: list[OutcomeIn] | None = Field(default=None, max_length=100, description="Replaces the whole set")
    solution_ids: list[Id] | None = Field(
        default=None, max_length=100, description="The listings it used; replaces the whole set"
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> CaseStudyContentIn:
        nullable = {"city_id", "year"}
        nulls = sorted(n for n in self.model_fields_set - nullable if getattr(self, n) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may be omitted but not null")
        return self


class CaseStudyCreateIn(CaseStudyContentIn):
    title: str = Field(min_length=1, max_length=300)


class CaseStudyUpdateIn(CaseStudyContentIn):
    pass


class CaseStudyListingFilters(BaseModel):
    """The filters a list of case studies and an alert on new case studies share (app.notifications.schemas
    `CaseStudyAlertFilters`): the constraints of each, written once."""

    city: Annotated[Id | None, Field(description="City id")] = None
    country: Annotated[
        str | None, Field(pattern="^[A-Za-z]{2}$", description="The city's country (ISO 3166-1 alpha-2)")
    ] = None
    solution: Annotated[Id | None, Field(description="Used this solution (id)")] = None
    kpi: Annotated[
        str | None, Field(max_length=64, description="Measured an outcome on this KPI (slug or official code)")
    ] = None
    year_from: Annotated[int | None, Field(ge=1900, le=2200, description="Year at least")] = None
    year_to: Annotated[int | None, Field(ge=1900, le=2200, description="Year at most")] = None
    language: Annotated[str | None, Field(pattern="^[A-Za-z]{2}$", description="ISO 639-1 code")] = None


class CaseStudyFilters(CaseStudyListingFilters):
    """The list filters of GET /api/v1/case-studies (its query model) and of GraphQL's `caseStudies` (its arguments are
    validated by it): each constraint once, so both faces refuse the same values alike (docs/architecture.md)."""

    model_config = ConfigDict(frozen=True)

    demo: Annotated[bool | None, Field(description="Only invented demo case studies (true) or real ones")] = None
