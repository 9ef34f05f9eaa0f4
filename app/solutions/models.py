"""Solutions (a vendor's listings), the KPI impacts they claim, and where they are deployed."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from app.core.models import UTCDateTime, children, created_at_field, enum_column, no_lazy, updated_at_field

if TYPE_CHECKING:
    from app.kpis.models import Kpi, KpiDataPoint
    from app.vendors.models import Vendor


class TranslationOrigin(StrEnum):
    """Who wrote a translation: a person (never overwritten by a machine) or a machine."""

    human = "human"
    machine = "machine"


class ListingStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    changes_requested = "changes_requested"
    published = "published"
    rejected = "rejected"
    archived = "archived"


class Maturity(StrEnum):
    concept = "concept"
    pilot = "pilot"
    market_ready = "market_ready"
    scaled = "scaled"


class PriceModel(StrEnum):
    subscription = "subscription"
    licence = "licence"
    per_unit = "per_unit"
    project = "project"
    open_source = "open_source"
    free = "free"


class EvidenceLevel(StrEnum):
    """How strongly a KPI impact is backed: claimed < piloted < verified (by a case study's outcomes)."""

    claimed = "claimed"
    piloted = "piloted"
    verified = "verified"


class Solution(SQLModel, table=True):
    __tablename__ = "solution"

    id: int | None = Field(default=None, primary_key=True)
    vendor_id: int = Field(foreign_key="vendor.id", index=True)
    slug: str = Field(max_length=160, unique=True)
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=500)
    description: str = Field(default="")
    # The language title, summary and description are written in (BCP 47); translations are beside it.
    original_language: str = Field(default="en", max_length=35, sa_column_kwargs={"server_default": "en"})
    maturity: Maturity = Field(sa_type=enum_column(Maturity, "maturity"))
    price_model: PriceModel = Field(sa_type=enum_column(PriceModel, "price_model"))
    standards: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    status: ListingStatus = Field(
        default=ListingStatus.draft, sa_type=enum_column(ListingStatus, "listing_status"), index=True
    )
    is_demo: bool = Field(default=False)
    source: str = Field(default="")
    version: int = Field(default=1)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    vendor: "Vendor" = Relationship(sa_relationship_kwargs=no_lazy())
    categories: list["SolutionCategory"] = Relationship(sa_relationship_kwargs=children())
    sdgs: list["SolutionSdg"] = Relationship(sa_relationship_kwargs=children())
    countries: list["SolutionCountry"] = Relationship(sa_relationship_kwargs=children())
    languages: list["SolutionLanguage"] = Relationship(sa_relationship_kwargs=children())
    impacts: list["SolutionKpiImpact"] = Relationship(back_populates="solution", sa_relationship_kwargs=children())
    deployments: list["SolutionDeployment"] = Relationship(sa_relationship_kwargs=children())


class SolutionCategory(SQLModel, table=True):
    __tablename__ = "solution_category"

    solution_id: int = Field(foreign_key="solution.id", primary_key=True, ondelete="CASCADE")
    category: str = Field(primary_key=True, max_length=64, index=True)


class SolutionSdg(SQLModel, table=True):
    __tablename__ = "solution_sdg"
    __table_args__ = (sa.CheckConstraint("sdg BETWEEN 1 AND 17", name="sdg_range"),)

    solution_id: int = Field(foreign_key="solution.id", primary_key=True, ondelete="CASCADE")
    sdg: int = Field(primary_key=True, index=True)


class SolutionCountry(SQLModel, table=True):
    """A country where the solution is offered."""

    __tablename__ = "solution_country"

    solution_id: int = Field(foreign_key="solution.id", primary_key=True, ondelete="CASCADE")
    country_code: str = Field(foreign_key="country.code", primary_key=True, max_length=2, index=True)


class SolutionLanguage(SQLModel, table=True):
    __tablename__ = "solution_language"

    solution_id: int = Field(foreign_key="solution.id", primary_key=True, ondelete="CASCADE")
    language: str = Field(primary_key=True, max_length=8, index=True, description="ISO 639-1")


class SolutionKpiImpact(SQLModel, table=True):
    """A vendor's claim that the solution improves a KPI; `expected_effect` is the share of a city's gap
    it expects to close (0-1)."""

    __tablename__ = "solution_kpi_impact"
    __table_args__ = (
        sa.UniqueConstraint("solution_id", "kpi_id"),
        sa.CheckConstraint("expected_effect > 0 AND expected_effect <= 1", name="effect_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    solution_id: int = Field(foreign_key="solution.id", index=True, ondelete="CASCADE")
    kpi_id: int = Field(foreign_key="kpi.id", index=True)
    # Optional: the data point the effect is on (PM10 for a filter), else the KPI as a whole.
    data_point_id: int | None = Field(default=None, foreign_key="kpi_data_point.id")
    expected_effect: float
    evidence_level: EvidenceLevel = Field(sa_type=enum_column(EvidenceLevel, "evidence_level"))
    # A verified claim points at the case study whose outcomes back it.
    case_study_id: int | None = Field(default=None, foreign_key="case_study.id", ondelete="SET NULL")
    note: str = Field(default="")

    solution: "Solution" = Relationship(back_populates="impacts", sa_relationship_kwargs=no_lazy())
    kpi: "Kpi" = Relationship(sa_relationship_kwargs=no_lazy())
    data_point: Optional["KpiDataPoint"] = Relationship(sa_relationship_kwargs=no_lazy())


class SolutionDeployment(SQLModel, table=True):
    __tablename__ = "solution_deployment"
    __table_args__ = (sa.UniqueConstraint("solution_id", "city_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    solution_id: int = Field(foreign_key="solution.id", index=True, ondelete="CASCADE")
    city_id: int = Field(foreign_key="city.id", index=True)
    year: int


class SolutionTranslation(SQLModel, table=True):
    """A listing's text fields in another language than its original; an empty field falls back to the
    original's. Changes are in the listing's audit trail (`solution.translation.put`)."""

    __tablename__ = "solution_translation"
    __table_args__ = (sa.UniqueConstraint("solution_id", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    solution_id: int = Field(foreign_key="solution.id", index=True, ondelete="CASCADE")
    language: str = Field(max_length=35, description="BCP 47 tag, normalised (de, nb, pt-BR)")
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=500)
    description: str = Field(default="")
    origin: TranslationOrigin = Field(sa_type=enum_column(TranslationOrigin, "translation_origin"))
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
