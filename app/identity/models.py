"""People, the organisations they act for, and their roles there."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field, enum_column, updated_at_field


class OrganisationKind(StrEnum):
    city = "city"
    vendor = "vendor"
    hub = "hub"
    programme = "programme"
    platform = "platform"


class Role(StrEnum):
    city_official = "city_official"
    vendor_member = "vendor_member"
    hub_curator = "hub_curator"
    programme_coordinator = "programme_coordinator"
    admin = "admin"


class User(SQLModel, table=True):
    # "user" is a reserved word in PostgreSQL.
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    # None for accounts that only sign in through an external identity provider.
    password_hash: str | None = Field(default=None, max_length=200)
    is_active: bool = Field(default=True)
    is_demo: bool = Field(default=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Organisation(SQLModel, table=True):
    """A city, a vendor, a hub, the twin-city programme or the platform itself; the kind says which
    of the references is set."""

    __tablename__ = "organisation"
    __table_args__ = (
        sa.CheckConstraint("(kind = 'city') = (city_id IS NOT NULL)", name="city_ref"),
        sa.CheckConstraint("(kind = 'vendor') = (vendor_id IS NOT NULL)", name="vendor_ref"),
        sa.CheckConstraint("(kind = 'hub') = (hub_id IS NOT NULL)", name="hub_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: OrganisationKind = Field(sa_type=enum_column(OrganisationKind, "organisation_kind"), index=True)
    name: str = Field(max_length=200)
    city_id: int | None = Field(default=None, foreign_key="city.id", unique=True, ondelete="CASCADE")
    vendor_id: int | None = Field(default=None, foreign_key="vendor.id", unique=True, ondelete="CASCADE")
    hub_id: int | None = Field(default=None, foreign_key="hub.id", unique=True, ondelete="CASCADE")
    created_at: datetime = created_at_field()


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "organisation_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    role: Role = Field(sa_type=enum_column(Role, "membership_role"))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
