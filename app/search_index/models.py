"""The search outbox: what changed, written in the same transaction as the change itself."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import UTCDateTime, utcnow


class SearchOutbox(SQLModel, table=True):
    """One row per change to indexed content. The indexer reads the object's *current* state when it
    applies a row (index it if published, remove it otherwise), so rows are idempotent and their order
    does not matter; a row is marked processed only once the engine has confirmed the write."""

    __tablename__ = "search_outbox"
    __table_args__ = (sa.Index("ix_search_outbox_pending", "processed_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    index_name: str = Field(max_length=32)
    object_id: int
    # Server defaults too: fan-out rows are written by INSERT ... SELECT, which skips Python defaults.
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"server_default": sa.func.current_timestamp()}
    )
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", sa_column_kwargs={"server_default": sa.text("''")})
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ThesaurusConcept(SQLModel, table=True):
    """One concept of the multilingual thesaurus (docs/architecture.md §6, "Search across languages"): its terms, in
    every language, find each other in search. Seeded from seeds/data/thesaurus.yaml by the migration that
    made the table; admins add concepts and add or remove terms."""

    __tablename__ = "thesaurus_concept"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ThesaurusTerm(SQLModel, table=True):
    """A term of a concept in one language (BCP 47, normalised); unique per concept and language, whatever
    its case (the engines match synonyms lower-cased)."""

    __tablename__ = "thesaurus_term"
    __table_args__ = (sa.UniqueConstraint("concept_id", "language", "term"),)

    id: int | None = Field(default=None, primary_key=True)
    concept_id: int = Field(foreign_key="thesaurus_concept.id", index=True)
    language: str = Field(max_length=35)
    term: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
