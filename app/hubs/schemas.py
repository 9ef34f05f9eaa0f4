"""What the API says about country hubs and their catalogues, and what their curators decide."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.text import InputModel
from app.hubs.models import CatalogueStatus, Hub, HubCatalogueEntry
from app.solutions.schemas import SolutionOut


class HubOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    countries: list[str] = Field(description="ISO 3166-1 alpha-2 codes of the countries it serves")
    is_demo: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, hub: Hub) -> HubOut:
        return cls(
            id=hub.id or 0,
            slug=hub.slug,
            name=hub.name,
            description=hub.description,
            countries=sorted(c.country_code for c in hub.countries),
            is_demo=hub.is_demo,
            version=hub.version,
            created_at=hub.created_at,
            updated_at=hub.updated_at,
        )


class CatalogueEntryBaseOut(BaseModel):
    """A curator's decision on one listing (the GraphQL type, whose solution comes from a DataLoader)."""

    id: int
    hub_id: int
    solution_id: int
    status: CatalogueStatus = Field(description="`featured` or `approved` (hidden entries are not public)")
    note: str = Field(description="The curator's note")
    decided_at: datetime

    @classmethod
    def from_model(cls, entry: HubCatalogueEntry) -> CatalogueEntryBaseOut:
        return cls.model_validate(entry, from_attributes=True)


class CatalogueEntryOut(CatalogueEntryBaseOut):
    solution: SolutionOut


class CatalogueDecisionOut(CatalogueEntryOut):
    """A curator's decision as its curators see it (hidden ones too), with who decided it and its version."""

    decided_by_user_id: int | None = Field(description="The curator who decided; null for a machine client")
    version: int

    @classmethod
    def from_entry(cls, entry: HubCatalogueEntry, solution: SolutionOut) -> CatalogueDecisionOut:
        return cls(
            **CatalogueEntryBaseOut.from_model(entry).model_dump(),
            solution=solution,
            decided_by_user_id=entry.decided_by_user_id,
            version=entry.version,
        )


# ------------------------------------------------------------------------------------------------- input


class CatalogueDecisionIn(InputModel):
    """A curator's decision on one published listing; who and when are the server's."""

    multiline_fields = frozenset({"note"})

    model_config = ConfigDict(extra="forbid")

    status: CatalogueStatus = Field(description="approved, featured (listed first) or hidden (not shown)")
    note: str = Field(default="", max_length=2000, description="Why: shown to cities next to the listing")


class HubFilters(BaseModel):
    """The list filters of GET /api/v1/hubs (its query model) and of GraphQL's `hubs` (its arguments are
    validated by it): each constraint once, so both faces refuse the same values alike (docs/architecture.md)."""

    model_config = ConfigDict(frozen=True)

    country: Annotated[
        str | None, Field(pattern="^[A-Za-z]{2}$", description="Serving this country (ISO 3166-1 alpha-2)")
    ] = None
