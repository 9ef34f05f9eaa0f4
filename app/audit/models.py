"""Audit events: who did what to which object, when, with the change."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = created_at_field()
    actor_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL", index=True)
    # OAuth client, "seed", "cli", ... for actions not taken by a signed-in person.
    actor_label: str = Field(default="", max_length=200)
    action: str = Field(max_length=64, index=True)
    object_type: str = Field(max_length=64)
    object_id: str = Field(max_length=64)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    request_id: str = Field(default="", max_length=64)
