"""REST face of the audit trail: who did what to which object, when, with the change (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from app.audit import service
from app.audit.schemas import AuditEventOut
from app.auth.deps import require_scopes
from app.auth.principal import Principal, Scope
from app.core.deps import PageDep, SessionDep
from app.core.ids import Id
from app.core.pagination import Page
from app.core.routing import api_router

router = api_router(prefix="/api/v1/audit-events", tags=["audit"])


@router.get(
    "",
    response_model=Page[AuditEventOut],
    summary="The audit trail, newest first (admins): filter by object, actor, action and time",
    responses={401: {"description": "No token"}, 403: {"description": "Not an admin"}},
)
def list_audit_events(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_scopes(Scope.admin))],
    page: PageDep,
    object_type: Annotated[
        str | None, Query(max_length=64, description='e.g. "solution", "vendor", "hub_catalogue_entry"')
    ] = None,
    object_id: Annotated[str | None, Query(max_length=64, description="The object's id (with object_type)")] = None,
    actor: Annotated[Id | None, Query(description="The acting user's id")] = None,
    action: Annotated[str | None, Query(max_length=64, description='e.g. "solution.publish"')] = None,
    since: Annotated[datetime | None, Query(description="At or after this time (ISO 8601, with a time zone)")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (ISO 8601, with a time zone)")] = None,
) -> Page[AuditEventOut]:
    filters = service.AuditFilters(
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
    )
    result = service.list_events(session, principal, filters, page)
    return Page(
        items=[AuditEventOut.from_model(e) for e in result.items], total=result.total, next_cursor=result.next_cursor
    )
