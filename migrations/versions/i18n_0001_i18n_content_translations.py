"""i18n content translations: one table for the translations of case studies, procurement guidelines,
challenges and KPIs; a challenge's original language

Revision ID: i18n_0001
Revises: onboard_0001
Create Date: 2026-12-04 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.models

revision: str = "i18n_0001"
down_revision: str | None = "onboard_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_translation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "case_study",
                "guideline",
                "challenge",
                "kpi",
                name="translatable_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=35), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column(
            "origin",
            sa.Enum(
                "human",
                "machine",
                name="content_translation_origin",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_translation")),
        sa.UniqueConstraint("kind", "item_id", "language", name=op.f("uq_content_translation_kind_item_id_language")),
    )
    with op.batch_alter_table("content_translation", schema=None) as batch_op:
        batch_op.create_index("ix_content_translation_kind_item", ["kind", "item_id"], unique=False)

    with op.batch_alter_table("challenge", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "original_language", sqlmodel.sql.sqltypes.AutoString(length=35), server_default="en", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("challenge", schema=None) as batch_op:
        batch_op.drop_column("original_language")

    with op.batch_alter_table("content_translation", schema=None) as batch_op:
        batch_op.drop_index("ix_content_translation_kind_item")

    op.drop_table("content_translation")
