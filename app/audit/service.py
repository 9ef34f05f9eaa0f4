"""Recording audit events: who did what to which object, when, with the change."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.audit.models import AuditEvent
from app.auth.principal import Principal


def record(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: int | str,
    changes: dict[str, Any] | None = None,
    request_id: str = "",
) -> AuditEvent:
    """Add an audit event to the current unit of work (it commits, or rolls back, with the change)."""
    event = AuditEvent(
        actor_user_id=principal.user_id,
        actor_label=principal.subject,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        changes=_jsonable(changes or {}),
        request_id=request_id,
    )
    session.add(event)
    return event


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`{field: {"from": old, "to": new}}` for the fields that changed."""
    return {k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
