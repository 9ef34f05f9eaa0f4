"""What the API says about accounts and memberships, and what sign-up and the account writes take."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.ids import MAX_ID
from app.core.text import InputModel
from app.identity.models import OrganisationKind, Role
from app.vendors.models import VendorSize


class SignupIn(InputModel):
    """A vendor's person signs up: the account (its email verified by a mailed link) and the vendor (unverified
    until platform staff verify it)."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=200, description="12 characters or more")
    name: str = Field(min_length=1, max_length=200, description="The person's name")
    vendor_name: str = Field(min_length=1, max_length=200, description="The company's name (unique)")
    country: str = Field(pattern="^[A-Za-z]{2}$", description="Where the vendor is based: ISO 3166-1 alpha-2")
    size: VendorSize = Field(default=VendorSize.small, description="micro, small, medium or large")
    website: str = Field(default="", max_length=500, pattern=r"^(https?://[^\s]+)?$", description='http(s) URL, or ""')


class SignupAcceptedOut(BaseModel):
    accepted: bool = True
    detail: str


class EmailVerifyIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200, description="The token of the verification email")


class EmailVerifiedOut(BaseModel):
    user_id: int
    email: str
    vendor_ids: list[int] = Field(description="The vendors the account is a member of (unverified until staff say)")


class MembershipOut(BaseModel):
    id: int
    user_id: int
    organisation_id: int
    organisation_name: str
    organisation_kind: OrganisationKind
    target_id: int | None = Field(description="The city, vendor or hub id (none for the programme and the platform)")
    role: Role
    created_at: datetime


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    is_active: bool = Field(description="False once deactivated: its tokens are refused, it cannot sign in")
    email_verified: bool = Field(description="False for a sign-up whose email link has not been opened")
    has_password: bool
    is_demo: bool
    created_at: datetime
    memberships: list[MembershipOut]


class MembershipCreateIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: int = Field(ge=1, le=MAX_ID)
    role: Role | None = Field(default=None, description="Default (and the only one allowed): its kind's role")


class UserActiveIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    is_active: bool = Field(description="false deactivates the account (its tokens stop working); true reactivates")
    note: str = Field(default="", max_length=2000, description="Why (kept in the audit trail)")
