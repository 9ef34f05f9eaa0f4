"""GraphQL face of the audit trail (docs/architecture.md §5): the same services, filters and checks as
GET /api/v1/audit-events (admins only) and GET /api/v1/solutions/{id}/history (a listing's vendor and the
reviewers; here, not in app.solutions.graphql, because it answers audit events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.audit import service
from app.audit.schemas import AuditEventOut
from app.auth.deps import require_token
from app.auth.principal import Scope
from app.graphql.context import Context
from app.graphql.relay import Connection, page_request
from app.solutions import service as solutions


@strawberry.experimental.pydantic.type(model=AuditEventOut, all_fields=True)
class AuditEvent:
    changes: JSON


def _to_event(event: Any) -> AuditEvent:
    return AuditEvent.from_pydantic(AuditEventOut.from_model(event))


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
        require_token(principal, Scope.admin)  # REST's require_scopes(Scope.admin)
        filters = service.AuditFilters(
            object_type=object_type, object_id=object_id, actor=actor, action=action, since=since, until=until
        )
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_events(s, principal, filters, page))
        return Connection[AuditEvent].from_page(result, _to_event)

    @strawberry.field(
        description="A listing's audit trail, newest first: edits, submissions, review decisions and their notes "
        "(GET /api/v1/solutions/{id}/history; its vendor and the reviewers)."
    )
    async def solution_history(
        self, info: strawberry.Info[Context, None], solution_id: int, first: int = 20, after: str | None = None
    ) -> Connection[AuditEvent]:
        principal = info.context.principal
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: solutions.solution_history(s, principal, solution_id, page))
        return Connection[AuditEvent].from_page(result, _to_event)
