"""GraphQL: `me`, who the request's access token speaks for (the same Principal as REST's GET /api/v1/me)."""

from __future__ import annotations

import strawberry

from app.auth.schemas import MeOut
from app.graphql.context import Context


@strawberry.type(description="A role held in one organisation.")
class RoleGrant:
    role: str
    organisation_id: int
    organisation_kind: str
    target_id: int | None = strawberry.field(description="The city, vendor or hub id; null for programme and platform.")


@strawberry.type(description="The caller: a person, a machine client, or anonymous.")
class Me:
    subject: str
    anonymous: bool
    user_id: int | None
    client_id: str | None
    roles: list[RoleGrant]
    scopes: list[str]


@strawberry.type
class MeQueries:
    @strawberry.field(description="Who the access token speaks for: subject, roles and scopes.")
    def me(self, info: strawberry.Info[Context, None]) -> Me:
        out = MeOut.from_principal(info.context.principal)
        roles = [RoleGrant(**role.model_dump()) for role in out.roles]
        return Me(**out.model_dump(exclude={"roles"}), roles=roles)
