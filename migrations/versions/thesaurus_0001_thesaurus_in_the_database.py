"""the multilingual thesaurus in the database, seeded from seeds/data/thesaurus.yaml

Revision ID: thesaurus_0001
Revises: i18n_0001
Create Date: 2026-12-04 20:05:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import yaml
from alembic import op

import app.core.models

revision: str = "thesaurus_0001"
down_revision: str | None = "i18n_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The seed file is the initial data (docs/architecture.md §6, "Search across languages"): read once, at this upgrade.
SEED = Path(__file__).resolve().parents[2] / "seeds" / "data" / "thesaurus.yaml"


def upgrade() -> None:
    concept = op.create_table(
        "thesaurus_concept",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    term = op.create_table(
        "thesaurus_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("term", sa.String(length=100), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["concept_id"], ["thesaurus_concept.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("concept_id", "language", "term"),
    )
    op.create_index(op.f("ix_thesaurus_term_concept_id"), "thesaurus_term", ["concept_id"], unique=False)
    _seed(concept, term)


def _seed(concept: sa.Table, term: sa.Table) -> None:
    """Concepts and terms in the seed file's order (ids follow it, so the synonyms come out as the file's)."""
    now = datetime.now(UTC)
    entries = yaml.safe_load(SEED.read_text(encoding="utf-8")) or []
    op.bulk_insert(concept, [{"id": i, "slug": e["concept"], "created_at": now} for i, e in enumerate(entries, 1)])
    rows = [
        {"concept_id": i, "language": language, "term": text, "created_at": now}
        for i, entry in enumerate(entries, 1)
        for language, texts in entry["terms"].items()
        for text in dict.fromkeys(texts)
    ]
    op.bulk_insert(term, rows)
    if op.get_bind().dialect.name == "postgresql":  # explicit ids: move the sequence past them
        op.execute("SELECT setval('thesaurus_concept_id_seq', (SELECT max(id) FROM thesaurus_concept))")


def downgrade() -> None:
    op.drop_index(op.f("ix_thesaurus_term_concept_id"), table_name="thesaurus_term")
    op.drop_table("thesaurus_term")
    op.drop_table("thesaurus_concept")
