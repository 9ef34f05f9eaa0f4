"""What the API says about vendors, and what may be written about them (input schemas at the end)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.text import InputModel
from app.vendors.models import Vendor, VendorSize


class VendorFilters(BaseModel):
    """The list filters of GET /api/v1/vendors (its query model) and of GraphQL's `vendors` (whose arguments are
    validated by it): each constraint once, so both faces refuse the same values with the same message
    (docs/architecture.md §4, "Each write declared once")."""

    model_config = ConfigDict(frozen=True)

    country: Annotated[str | None, Field(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country code")] = None
    size: Annotated[VendorSize | None, Field(description="micro, small, medium or large")] = None
    verified: Annotated[bool | None, Field(description="Only vendors checked by platform staff (or not)")] = None
    q: Annotated[str | None, Field(min_length=1, max_length=100, description="Name prefix")] = None


class VendorRefOut(BaseModel):
    """A vendor as its listings and proposals show it."""

    id: int
    slug: str
    name: str
    country_code: str
    verified: bool

    @classmethod
    def from_model(cls, vendor: Vendor) -> VendorRefOut:
        return cls(
            id=vendor.id or 0,
            slug=vendor.slug,
            name=vendor.name,
            country_code=vendor.country_code,
            verified=vendor.verified,
        )


class VendorOut(BaseModel):
    id: int
    slug: str
    name: str
    country_code: str = Field(description="ISO 3166-1 alpha-2")
    website: str
    size: VendorSize
    description: str
    verified: bool = Field(description="Checked by platform staff")
    is_demo: bool = Field(description="True for vendors invented for the demo catalogue")
    source: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, vendor: Vendor) -> VendorOut:
        return cls.model_validate(vendor, from_attributes=True)


class VendorDetailOut(VendorOut):
    published_solutions: int = Field(description="How many of its listings are published")


# ------------------------------------------------------------------------------------------------- input
# `verified` is never in these: platform staff set it with POST /api/v1/vendors/{id}/verify.

Website = Annotated[str, Field(max_length=500, pattern=r"^(https?://[^\s]+)?$", description='http(s) URL, or ""')]


class VendorCreateIn(InputModel):
    """A new vendor (admins); its members are then added to its organisation (`citymarket users create`)."""

    multiline_fields = frozenset({"description"})

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    country_code: str = Field(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")
    website: Website = ""
    size: VendorSize
    description: str = Field(default="", max_length=20000)


class VendorUpdateIn(InputModel):
    """Changes to a vendor's profile (its members, admins): only the fields given change."""

    multiline_fields = frozenset({"description"})

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    country_code: str | None = Field(default=None, pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")
    website: Website | None = None
    size: VendorSize | None = None
    description: str | None = Field(default=None, max_length=20000)

    @model_validator(mode="after")
    def _no_nulls(self) -> VendorUpdateIn:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may be omitted but not null")
        return self


class VendorVerifyIn(InputModel):
    multiline_fields = frozenset({"note"})
    model_config = ConfigDict(extra="forbid")

    verified: bool = Field(default=True, description="false withdraws the mark")
    note: str = Field(default="", max_length=2000, description="How it was checked (kept in the audit trail)")
