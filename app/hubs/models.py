"""Country hubs and the catalogue each curates over the one global catalogue of published solutions."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from app.core.models import UTCDateTime, children, created_at_field, enum_column, updated_at_field


class CatalogueStatus(StrEnum):
    approved = "approved"
    featured = "featured"
    hidden = "hidden"


class Hub(SQLModel, table=True):
    __tablename__ = "hub"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True)
    name: str = Field(max_length=200, unique=True)
    description: str = Field(default="")
    is_demo: bool = Field(default=False)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    countries: list["HubCountry"] = Relationship(sa_relationship_kwargs=children())


class HubCountry(SQLModel, table=True):
    __tablename__ = "hub_country"

    hub_id: int = Field(foreign_key="hub.id", primary_key=True, ondelete="CASCADE")
    country_code: str = Field(foreign_key="country.code", primary_key=True, max_length=2, index=True)


class HubCatalogueEntry(SQLModel, table=True):
    """A hub curator's decision on one published listing."""

    __tablename__ = "hub_catalogue_entry"
    __table_args__ = (sa.UniqueConstraint("hub_id", "solution_id"),)

    id: int | None = Field(default=None, primary_key=True)
    hub_id: int = Field(foreign_key="hub.id", index=True, ondelete="CASCADE")
    solution_id: int = Field(foreign_key="solution.id", index=True, ondelete="CASCADE")
    status: CatalogueStatus = Field(sa_type=enum_column(CatalogueStatus, "catalogue_status"), index=True)
    note: str = Field(default="")
    decided_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    decided_at: datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
