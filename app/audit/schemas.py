"""What the API says about audit events (read only: events are written by the writes they record)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.audit.models import AuditEvent


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime
    actor_user_id: int | None = Field(description="The person who acted; null for a machine client")
    actor_label: str = Field(description='Who acted: "user:12", "client:<client id>", "oidc:<issuer>#<sub>", "cli"')
    action: str = Field(examples=["solution.publish"], description="<object type>.<verb>")
    object_type: str = Field(examples=["solution"])
    object_id: str
    changes: dict[str, Any] = Field(
        description='The change: {field: {"from": old, "to": new}} for edits; the values set for creates; '
        "the note of a review"
    )
    request_id: str = Field(description="The X-Request-ID of the request that made the change")

    @classmethod
    def from_model(cls, event: AuditEvent) -> AuditEventOut:
        return cls.model_validate(event, from_attributes=True)
