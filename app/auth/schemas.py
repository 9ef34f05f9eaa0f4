"""What the API says about the caller: REST's GET /api/v1/me and GraphQL's `me` (app.graphql.me) alike."""

from __future__ import annotations

from pydantic import BaseModel

from app.auth.principal import Principal


class RoleOut(BaseModel):
    role: str
    organisation_id: int
    organisation_kind: str
    target_id: int | None


class MeOut(BaseModel):
    subject: str
    anonymous: bool
    user_id: int | None
    client_id: str | None
    roles: list[RoleOut]
    scopes: list[str]

    @classmethod
    def from_principal(cls, principal: Principal) -> MeOut:
        roles = [
            RoleOut(
                role=m.role.value,
                organisation_id=m.organisation_id,
                organisation_kind=m.kind.value,
                target_id=m.target_id,
            )
            for m in principal.memberships
        ]
        return cls(
            subject=principal.subject,
            anonymous=principal.is_anonymous,
            user_id=principal.user_id,
            client_id=principal.client_id,
            roles=roles,
            scopes=sorted(principal.scopes),
        )
