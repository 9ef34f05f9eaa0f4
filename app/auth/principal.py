"""Who is calling: the one result of authentication that REST, GraphQL and services all use."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.identity.models import OrganisationKind, Role


class Scope(StrEnum):
    """OAuth scopes. A token acts with the intersection of its scopes and its holder's roles."""

    cities_write = "cities:write"  # city profile and KPI values
    vendors_write = "vendors:write"  # vendor profile
    solutions_write = "solutions:write"  # listings and their lifecycle
    catalogue_write = "catalogue:write"  # hub curation
    twinnings_write = "twinnings:write"
    challenges_write = "challenges:write"  # challenges, proposals, comments
    private_read = "private:read"  # non-public KPI values, drafts, matches
    admin = "admin"  # platform administration: users, clients, benchmarks, review


ALL_SCOPES: frozenset[str] = frozenset(s.value for s in Scope)


@dataclass(frozen=True)
class Membership:
    """A role held in one organisation; `target_id` is the city, vendor or hub id (None for the
    programme and the platform)."""

    organisation_id: int
    kind: OrganisationKind
    target_id: int | None
    role: Role


@dataclass(frozen=True)
class Principal:
    subject: str  # "user:12", "client:abc", or "anonymous"
    user_id: int | None = None
    client_id: str | None = None
    memberships: tuple[Membership, ...] = ()
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and self.client_id is None

    def has_scope(self, scope: Scope) -> bool:
        return scope.value in self.scopes

    def has_role(self, role: Role, kind: OrganisationKind | None = None, target_id: int | None = None) -> bool:
        return any(
            m.role == role and (kind is None or m.kind == kind) and (target_id is None or m.target_id == target_id)
            for m in self.memberships
        )

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.admin) and self.has_scope(Scope.admin)

    def target_ids(self, kind: OrganisationKind, role: Role) -> frozenset[int]:
        return frozenset(m.target_id for m in self.memberships if m.kind == kind and m.role == role and m.target_id)


ANONYMOUS = Principal(subject="anonymous")
