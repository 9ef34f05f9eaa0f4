"""Translations of the catalogue's other texts: case studies, procurement guidelines, challenges, KPIs.

One table for every kind (docs/architecture.md, "Languages"): a row is one item's text fields in one
language, keyed by (kind, item_id, language), its texts a JSON object of field -> text. Listings keep their
own typed `solution_translation` (app.solutions.models), which came first.
"""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field, enum_column, updated_at_field
from app.solutions.models import TranslationOrigin


class TranslatableKind(StrEnum):
    case_study = "case_study"
    guideline = "guideline"
    challenge = "challenge"
    kpi = "kpi"


class ContentTranslation(SQLModel, table=True):
    """An item's translatable fields in another language than its original; a field left out or empty falls
    back to the original's. Changes are in the item's audit trail (`<kind>.translation.put`)."""

    __tablename__ = "content_translation"
    __table_args__ = (
        sa.UniqueConstraint("kind", "item_id", "language"),
        sa.Index("ix_content_translation_kind_item", "kind", "item_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: TranslatableKind = Field(sa_type=enum_column(TranslatableKind, "translatable_kind"))
    # The case study's, guideline's, challenge's or KPI's id (no foreign key: one column for four tables; the
    # item's delete removes its translations in the service, and an orphan is never read).
    item_id: int
    language: str = Field(max_length=35, description="BCP 47 tag, normalised (de, nb, pt-BR)")
    texts: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    origin: TranslationOrigin = Field(sa_type=enum_column(TranslationOrigin, "content_translation_origin"))
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
