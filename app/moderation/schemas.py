"""What the moderation API says and takes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.ids import Id
from app.core.text import InputModel
from app.moderation.models import AccountBlock, ContentKind, ModeratedItem, ModerationReport, ReportReason


class ReportIn(InputModel):
    multiline_fields = frozenset({"note"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: ContentKind = Field(description="What is reported", examples=["comment"])
    object_id: Id = Field(description="Its id", examples=[12])
    reason: ReportReason = Field(examples=["spam"])
    note: str = Field(default="", max_length=1000, examples=["Advertises an unrelated product."])


class ReportOut(BaseModel):
    id: int
    kind: ContentKind
    object_id: int
    reason: ReportReason
    note: str
    reporter_user_id: int = Field(description="Moderators only: the reporting account (your own, to a reporter)")
    created_at: datetime
    item_hidden: bool = Field(description="Whether the item is hidden now (pending review, or by a moderator)")

    @classmethod
    def from_model(cls, report: ModerationReport, hidden: bool) -> ReportOut:
        return cls(
            id=report.id or 0,
            kind=report.kind,
            object_id=report.object_id,
            reason=report.reason,
            note=report.note,
            reporter_user_id=report.reporter_user_id,
            created_at=report.created_at,
            item_hidden=hidden,
        )


class ModerationNoteIn(InputModel):
    multiline_fields = frozenset({"note"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(default="", max_length=1000, examples=["Checked: not spam."])


class ModeratedItemOut(BaseModel):
    kind: ContentKind
    object_id: int
    hidden: bool
    reports: int = Field(description="Distinct accounts that reported it")
    reviewed_by_user_id: int | None = Field(description="The moderator who last decided; null: not reviewed")
    reviewed_at: datetime | None

    @classmethod
    def from_model(cls, item: ModeratedItem, reports: int) -> ModeratedItemOut:
        return cls(
            kind=item.kind,
            object_id=item.object_id,
            hidden=item.hidden,
            reports=reports,
            reviewed_by_user_id=item.reviewed_by_user_id,
            reviewed_at=item.reviewed_at,
        )


class BlockIn(InputModel):
    multiline_fields = frozenset({"reason"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(default="", max_length=1000, examples=["Repeated spam."])


class AccountBlockOut(BaseModel):
    user_id: int
    reason: str
    blocked_by_user_id: int | None
    created_at: datetime

    @classmethod
    def from_model(cls, block: AccountBlock) -> AccountBlockOut:
        return cls.model_validate(block, from_attributes=True)
