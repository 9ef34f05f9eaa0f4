"""How one lifecycle action shows on both faces, declared once beside its transition (docs/architecture.md,
"Each write declared once").

A domain's `lifecycle.py` gives every action an `ActionFace`; its REST router registers one route per action
from it (name, summary, the scopes its token needs) and its GraphQL module one mutation (the same name,
camelCased, and description). Whether the caller may take the action on *that* object is still the service's
(`app.auth.permissions`); the scopes are only what the token must carry before the service is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends

from app.auth.deps import require_scopes
from app.auth.principal import Scope


@dataclass(frozen=True)
class ActionFace:
    # The REST route's name (so the start of its OpenAPI operationId) and the GraphQL mutation's, camelCased.
    name: str
    # What the action does, without who may take it.
    summary: str
    # Who may take it, as the documentation of both faces says it.
    who: str
    # What the token needs on either face: 401 without a token, 403 without each of these (none: any token).
    scopes: tuple[Scope, ...]

    @property
    def rest_summary(self) -> str:
        return f"{self.summary} ({self.who}; If-Match)"

    @property
    def graphql_description(self) -> str:
        return f"{self.summary} ({self.who})."

    def route_options(self) -> dict[str, Any]:
        """A REST route's keyword arguments for this action: its name, summary and the token's scopes (checked
        by a route dependency, as `require_scopes` does for every write)."""
        return {
            "name": self.name,
            "summary": self.rest_summary,
            "dependencies": [Depends(require_scopes(*self.scopes))],
        }
