"""What the API says about vendors (output only; input schemas come with the writes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.vendors.models import Vendor, VendorSize


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
