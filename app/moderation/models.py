"""Moderation: reports of content by signed-in people, the items hidden pending review, blocked accounts."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import UTCDateTime, created_at_field, enum_column, updated_at_field


class ContentKind(StrEnum):
    """What may be reported (the object type of its audit events)."""

    comment = "comment"
    proposal = "proposal"
    clarification = "clarification"
    listing = "listing"
    case_study = "case_study"


class ReportReason(StrEnum):
    spam = "spam"
    offensive = "offensive"
    misleading = "misleading"
    confidential_information = "confidential_information"
    other = "other"


class ModerationReport(SQLModel, table=True):
    """One account's report of one item (once: a second report by the same account is refused)."""

    __tablename__ = "moderation_report"
    __table_args__ = (sa.UniqueConstraint("kind", "object_id", "reporter_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: ContentKind = Field(sa_type=enum_column(ContentKind, "moderation_content_kind"), index=True)
    object_id: int = Field(index=True)
    reporter_user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    reason: ReportReason = Field(sa_type=enum_column(ReportReason, "moderation_report_reason"))
    note: str = Field(default="", max_length=1000)
    created_at: datetime = created_at_field()


class ModeratedItem(SQLModel, table=True):
    """An item's moderation state: hidden (by the reporters' threshold or a moderator) or restored."""

    __tablename__ = "moderated_item"

    kind: ContentKind = Field(sa_type=enum_column(ContentKind, "moderated_item_kind"), primary_key=True)
    object_id: int = Field(primary_key=True)
    hidden: bool = Field(default=False, index=True)
    # The author, kept so that the author still sees a hidden item (comments: their author_user_id).
    author_user_id: int | None = Field(default=None)
    # Set when a moderator decided (hide or restore); None while it waits for review.
    reviewed_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = updated_at_field()


class AccountBlock(SQLModel, table=True):
    """An account blocked from posting (comments, proposals, clarifications, reports) by a moderator."""

    __tablename__ = "account_block"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    reason: str = Field(default="", max_length=1000)
    blocked_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()
