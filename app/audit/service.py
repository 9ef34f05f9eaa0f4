"""Recording audit events: who did what to which object, when, with the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlmodel import Session, col, select

from app.audit.context import current_request_id
from app.audit.models import AuditEvent
from app.auth import permissions
from app.auth.principal import Principal
from app.core.errors import InvalidInput
from app.core.ids import MAX_ID
from app.core.pagination import PageRequest, PageResult, SortKey, paginate


def record(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: int | str,
    changes: dict[str, Any] | None = None,
    request_id: str = "",
) -> AuditEvent:
    """Add an audit event to the current unit of work (it commits, or rolls back, with the change).
    Without a `request_id`, the current request's (X-Request-ID, bound by the observability middleware)."""
    request_id = request_id or current_request_id()
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


@dataclass(frozen=True)
class AuditFilters:
    """The audit trail's filters, checked as REST checks its query parameters (both faces build these)."""

    object_type: str | None = None
    object_id: str | None = None
    actor: int | None = None  # user id
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        for name in ("object_type", "object_id", "action"):
            value = getattr(self, name)
            if value is not None and len(value) > FILTER_MAX_LENGTH:
                raise _invalid(name, f"at most {FILTER_MAX_LENGTH} characters", "string_too_long")
        if self.actor is not None and not 1 <= self.actor <= MAX_ID:
            raise _invalid("actor", f"a user id between 1 and {MAX_ID}", "range")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidInput(
                    f"Invalid query parameter query.{name}: give a time zone (e.g. 2026-01-31T12:00:00Z).",
                    errors=[{"field": f"query.{name}", "message": "a time zone is required", "type": "timezone"}],
                )


FILTER_MAX_LENGTH: Final = 64


def _invalid(name: str, message: str, kind: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid query parameter query.{name}: {message}.",
        errors=[{"field": f"query.{name}", "message": message, "type": kind}],
    )


def list_events(
    session: Session, principal: Principal, filters: AuditFilters, page: PageRequest
) -> PageResult[AuditEvent]:
    """Audit events, newest first (by id: ids grow with time, and a datetime would not survive the cursor)."""
    permissions.require(permissions.can_read_audit_trail(principal), "Only platform admins may read the audit trail.")
    statement = select(AuditEvent)
    if filters.object_type:
        statement = statement.where(col(AuditEvent.object_type) == filters.object_type)
    if filters.object_id:
        statement = statement.where(col(AuditEvent.object_id) == filters.object_id)
    if filters.actor is not None:
        statement = statement.where(col(AuditEvent.actor_user_id) == filters.actor)
    if filters.action:
        statement = statement.where(col(AuditEvent.action) == filters.action)
    if filters.since is not None:
        statement = statement.where(col(AuditEvent.occurred_at) >= filters.since)
    if filters.until is not None:
        statement = statement.where(col(AuditEvent.occurred_at) < filters.until)
    return paginate(session, statement, [SortKey(AuditEvent.id, descending=True)], page)  # type: ignore[arg-type]


def events_of(session: Session, object_type: str, object_id: int | str, page: PageRequest) -> PageResult[AuditEvent]:
    """One object's history, newest first (the caller has checked the right to read it)."""
    statement = select(AuditEvent).where(
        col(AuditEvent.object_type) == object_type, col(AuditEvent.object_id) == str(object_id)
    )
    return paginate(session, statement, [SortKey(AuditEvent.id, descending=True)], page)  # type: ignore[arg-type]
