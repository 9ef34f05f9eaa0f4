"""What the API says about solutions, and what a vendor may write (input schemas at the end).

Three layers per resource, so that GraphQL can resolve related objects through DataLoaders instead of
receiving them pre-built: `SolutionBaseOut` (the row's own fields: the GraphQL type), `SolutionOut`
(+ the vendor summary: a REST list item) and `SolutionDetailOut` (+ KPI impacts and deployments).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.ids import Id
from app.core.text import InputModel
from app.kpis.schemas import KpiRefOut
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Maturity,
    PriceModel,
    Solution,
    SolutionKpiImpact,
    SolutionTranslation,
    TranslationOrigin,
)
from app.vendors.schemas import VendorRefOut


class SolutionListingFilters(BaseModel):
    """The filters a list of listings and an alert on new listings share (app.notifications.schemas
    `SolutionAlertFilters`): the constraints of each, written once."""

    vendor: Annotated[Id | None, Field(description="Vendor id")] = None
    country: Annotated[
        str | None, Field(pattern="^[A-Za-z]{2}$", description="Offered in this country (ISO 3166-1 alpha-2)")
    ] = None
    category: Annotated[str | None, Field(max_length=64, description='e.g. "Water and Sanitation"')] = None
    dimension: Annotated[
        str | None, Field(max_length=64, description="Claims an impact on a KPI of this dimension")
    ] = None
    kpi: Annotated[
        str | None, Field(max_length=64, description="Claims an impact on this KPI (slug or official code)")
    ] = None
    sdg: Annotated[int | None, Field(ge=1, le=17, description="UN SDG goal number")] = None
    language: Annotated[str | None, Field(pattern="^[A-Za-z]{2}$", description="ISO 639-1 code")] = None
    hub: Annotated[Id | None, Field(description="Approved or featured in this hub's catalogue")] = None


EVIDENCE_DESCRIPTION = "Has an impact claim at least this strong (claimed < piloted < verified)"


class SolutionFilters(SolutionListingFilters):
    """The list filters of GET /api/v1/solutions (its query model) and of GraphQL's `solutions` (whose arguments
    are validated by it): each constraint is written here once, so both faces refuse the same values with the
    same message (docs/architecture.md §4, "Each write declared once")."""

    model_config = ConfigDict(frozen=True)

    maturity: Maturity | None = None
    price_model: PriceModel | None = None
    evidence: Annotated[EvidenceLevel | None, Field(description=EVIDENCE_DESCRIPTION)] = None
    status: Annotated[ListingStatus | None, Field(description="Listing status (only published ones are public)")] = None


class SolutionRefOut(BaseModel):
    """A listing as other resources point at it (GET /api/v1/solutions/{id} has the rest)."""

    id: int
    slug: str
    title: str
    vendor_id: int

    @classmethod
    def from_model(cls, solution: Solution) -> SolutionRefOut:
        return cls(id=solution.id or 0, slug=solution.slug, title=solution.title, vendor_id=solution.vendor_id)


TEXT_FIELDS = ("title", "summary", "description")


class FieldLanguagesOut(BaseModel):
    """The language each text field of the answer is in (a field falls back to the original language)."""

    title: str
    summary: str
    description: str


class SolutionBaseOut(BaseModel):
    id: int
    slug: str
    vendor_id: int
    title: str
    summary: str
    description: str
    original_language: str = Field(description="BCP 47 tag of the language the listing was written in")
    language: str = Field(description="The language of the answer (its Content-Language): the title's")
    field_languages: FieldLanguagesOut = Field(description="The language of each text field")
    maturity: Maturity
    price_model: PriceModel
    status: ListingStatus = Field(description="Only `published` listings are public.")
    categories: list[str]
    sdgs: list[int] = Field(description="UN SDG goal numbers (1-17)")
    countries: list[str] = Field(description="ISO 3166-1 alpha-2 codes of the countries where it is offered")
    languages: list[str] = Field(description="ISO 639-1 codes")
    standards: list[str] = Field(description="Interoperability standards it supports")
    is_demo: bool = Field(description="True for listings invented for the demo catalogue")
    source: str
    version: int
    submitted_at: datetime | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, solution: Solution) -> SolutionBaseOut:
        return cls(**_base_fields(solution))


class SolutionOut(SolutionBaseOut):
    vendor: VendorRefOut

    @classmethod
    def from_model(cls, solution: Solution) -> SolutionOut:
        return cls(**_base_fields(solution), vendor=VendorRefOut.from_model(solution.vendor))


class KpiImpactOut(BaseModel):
    kpi: KpiRefOut
    data_point: str = Field(description='The data point the effect is on ("PM10"); "" for the KPI as a whole.')
    expected_effect: float = Field(description="Share of a city's gap on this KPI the vendor expects to close (0-1).")
    evidence_level: EvidenceLevel
    case_study_id: int | None = Field(description="The case study whose outcomes back a verified claim.")
    note: str

    @classmethod
    def from_model(cls, impact: SolutionKpiImpact) -> KpiImpactOut:
        return cls(
            kpi=KpiRefOut.from_model(impact.kpi),
            data_point=impact.data_point.key if impact.data_point is not None else "",
            expected_effect=impact.expected_effect,
            evidence_level=impact.evidence_level,
            case_study_id=impact.case_study_id,
            note=impact.note,
        )


class DeploymentOut(BaseModel):
    city_id: int
    city_name: str
    year: int


class SolutionDetailOut(SolutionOut):
    kpi_impacts: list[KpiImpactOut]
    deployments: list[DeploymentOut]


# The columns of the solution table that SolutionBaseOut carries as they are.
_ROW_SCALARS = (
    "id",
    "slug",
    "vendor_id",
    "title",
    "summary",
    "description",
    "original_language",
    "maturity",
    "price_model",
    "status",
    "is_demo",
    "source",
    "version",
    "submitted_at",
    "published_at",
    "created_at",
    "updated_at",
)


def row_fields(row: Any, children: dict[str, list[Any]]) -> dict[str, Any]:
    """SolutionBaseOut's fields from a row of the solution table and its sorted child values, as plain values
    (nested models as dicts): one validation of the whole output builds them, in pydantic's core."""
    mapping = row._mapping
    fields = {name: mapping[name] for name in _ROW_SCALARS}
    language = fields["original_language"]
    fields["language"] = language
    fields["field_languages"] = {"title": language, "summary": language, "description": language}
    fields["standards"] = list(mapping["standards"])
    fields.update(children)
    return fields


def _original(language: str) -> FieldLanguagesOut:
    return FieldLanguagesOut(title=language, summary=language, description=language)


def _base_fields(solution: Solution) -> dict[str, Any]:
    return {
        "id": solution.id or 0,
        "slug": solution.slug,
        "vendor_id": solution.vendor_id,
        "title": solution.title,
        "summary": solution.summary,
        "description": solution.description,
        "original_language": solution.original_language,
        "language": solution.original_language,
        "field_languages": _original(solution.original_language),
        "maturity": solution.maturity,
        "price_model": solution.price_model,
        "status": solution.status,
        "categories": sorted(c.category for c in solution.categories),
        "sdgs": sorted(s.sdg for s in solution.sdgs),
        "countries": sorted(c.country_code for c in solution.countries),
        "languages": sorted(lang.language for lang in solution.languages),
        "standards": list(solution.standards),
        "is_demo": solution.is_demo,
        "source": solution.source,
        "version": solution.version,
        "submitted_at": solution.submitted_at,
        "published_at": solution.published_at,
        "created_at": solution.created_at,
        "updated_at": solution.updated_at,
    }


# ------------------------------------------------------------------------------------------------- input
# Unknown fields are refused (422): a listing's status, version, vendor, timestamps and slug are the server's.

CountryCode = Annotated[str, Field(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")]
LanguageCode = Annotated[str, Field(pattern="^[A-Za-z]{2}$", description="ISO 639-1")]
Sdg = Annotated[int, Field(ge=1, le=17)]
Standard = Annotated[str, Field(min_length=1, max_length=100)]
Category = Annotated[str, Field(min_length=1, max_length=64)]


class KpiImpactIn(InputModel):
    """A claim that the solution improves a KPI."""

    multiline_fields = frozenset({"note"})

    model_config = ConfigDict(extra="forbid")

    kpi: str = Field(
        min_length=1, max_length=64, description="KPI slug (EN-EN-AQ-1C) or official code (EN: EN: AQ: 1C)"
    )
    data_point: str = Field(
        default="", max_length=64, description='The data point the effect is on ("PM10"); "" for the KPI as a whole'
    )
    expected_effect: float = Field(gt=0, le=1, description="Share of a city's gap it expects to close (0 < e <= 1)")
    evidence_level: EvidenceLevel = Field(
        default=EvidenceLevel.claimed,
        description="claimed or piloted; verified only with a case_study_id whose outcomes cover this KPI and "
        "which links this solution",
    )
    case_study_id: Id | None = Field(default=None, description="The case study that backs the claim")
    note: str = Field(default="", max_length=2000)


class DeploymentIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    city_id: Id
    year: int = Field(ge=1990, le=2100)


class SolutionContentIn(InputModel):
    """What a vendor writes about its listing; `None` (omitted) means: leave it as it is."""

    multiline_fields = frozenset({"summary", "description"})

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    summary: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    categories: list[Category] | None = Field(
        default=None, max_length=22, description='KPI categories of the framework (e.g. "Water and Sanitation")'
    )
    sdgs: list[Sdg] | None = Field(default=None, max_length=17, description="UN SDG goal numbers (1-17)")
    maturity: Maturity | None = None
    price_model: PriceModel | None = None
    countries: list[CountryCode] | None = Field(default=None, max_length=250, description="Where it is offered")
    languages: list[LanguageCode] | None = Field(default=None, max_length=50)
    standards: list[Standard] | None = Field(default=None, max_length=50, description="Interoperability standards")
    kpi_impacts: list[KpiImpactIn] | None = Field(
        default=None, max_length=100, description="Replaces the whole set of claims (at most one per KPI)"
    )
    deployments: list[DeploymentIn] | None = Field(
        default=None, max_length=500, description="Replaces the whole set of deployments"
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> SolutionContentIn:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may be omitted but not null")
        return self


class SolutionCreateIn(SolutionContentIn):
    """A new listing: a draft of the vendor's (the caller must be a member of that vendor, or an admin)."""

    vendor_id: Id
    title: str = Field(min_length=1, max_length=200)
    maturity: Maturity
    price_model: PriceModel


class SolutionUpdateIn(SolutionContentIn):
    """Changes to a listing (PATCH): only the fields given change; lists replace the whole set."""


class ReviewNoteIn(InputModel):
    """The optional body of a lifecycle action; request-changes and reject need a note for the vendor."""

    multiline_fields = frozenset({"note"})

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=4000)


LanguageTag = Annotated[
    str,
    Field(
        min_length=2,
        max_length=35,
        pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
        description="BCP 47 language tag (de, nb, pt-BR)",
    ),
]


class SolutionTranslationIn(InputModel):
    """A listing's text in one language; an empty summary or description falls back to the original's."""

    multiline_fields = frozenset({"summary", "description"})

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=20000)
    origin: TranslationOrigin = Field(
        default=TranslationOrigin.human,
        description="human (by a person) or machine; a machine translation never replaces a human one (409)",
    )


class SolutionTranslationOut(BaseModel):
    solution_id: int
    language: str
    title: str
    summary: str
    description: str
    origin: TranslationOrigin
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: SolutionTranslation) -> SolutionTranslationOut:
        return cls(
            solution_id=row.solution_id,
            language=row.language,
            title=row.title,
            summary=row.summary,
            description=row.description,
            origin=row.origin,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
