"""Vendors: the companies that list solutions."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field, enum_column, updated_at_field


class VendorSize(StrEnum):
    micro = "micro"
    small = "small"
    medium = "medium"
    large = "large"


class Vendor(SQLModel, table=True):
    __tablename__ = "vendor"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True)
    name: str = Field(max_length=200, unique=True)
    country_code: str = Field(foreign_key="country.code", max_length=2, index=True)
    website: str = Field(default="", max_length=500)
    size: VendorSize = Field(sa_type=enum_column(VendorSize, "vendor_size"))
    description: str = Field(default="")
    # Set by platform staff after checking the company exists; never by the vendor itself.
    verified: bool = Field(default=False)
    # Registered by its own people through sign-up (app/accounts), not by platform staff: until it is
    # verified it may keep drafts but not submit listings for review (docs/architecture.md, onboarding).
    self_registered: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    is_demo: bool = Field(default=False)
    source: str = Field(default="")
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
