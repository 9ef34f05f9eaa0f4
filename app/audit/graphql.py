"""GraphQL face of the audit trail (docs/architecture.md §5): the same service, filters and checks as
GET /api/v1/audit-events (admins only)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.audit import service
from app.audit.schemas import AuditEventOut
from app.auth.deps import authentication_required, insufficient_scope
from app.auth.principal import Scope
from app.graphql.context import Context
from app.graphql.relay import Connection, page_request


@strawberry.experimental.pydantic.type(model=AuditEventOut, all_fields=True)
class AuditEvent:
    changes: JSON


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="The audit trail, newest first (GET /api/v1/audit-events; a token with the admin scope): "
        "filter by object, actor, action and time (since inclusive, until exclusive, with a time zone)."
    )
    async def audit_events(
        self,
        info: strawberry.Info[Context, None],
        object_type: str | None = None,
        object_id: str | None = None,
        actor: int | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[AuditEvent]:
        principal = info.context.principal
        # What REST's require_scopes(Scope.admin) checks before the service: a token (401), the scope (403).
        if principal.is_anonymous:
            raise authentication_required()
        if not principal.has_scope(Scope.admin):
            raise insufficient_scope((Scope.admin,))
        filters = service.AuditFilters(
            object_type=object_type, object_id=object_id, actor=actor, action=action, since=since, until=until
        )
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_events(s, principal, filters, page))
        return Connection[AuditEvent].from_page(result, lambda e: AuditEvent.from_pydantic(AuditEventOut.from_model(e)))
