"""Who is calling: the one result of authentication that REST, GraphQL and services all use."""

from __future__ import annotations

from collections.abc import Iterable
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

SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.cities_write: "edit your city's profile and KPI values",
    Scope.vendors_write: "edit your vendor's profile",
    Scope.solutions_write: "create, edit and submit your vendor's listings",
    Scope.catalogue_write: "curate your hub's catalogue",
    Scope.twinnings_write: "propose, answer and manage twinnings",
    Scope.challenges_write: "post challenges, proposals and comments",
    Scope.private_read: "read private data: non-public KPI values, drafts, matches",
    Scope.admin: "administer the platform",
}

# The role an organisation's machine clients act with, and the kind of organisation each role belongs to.
KIND_ROLE: dict[OrganisationKind, Role] = {
    OrganisationKind.city: Role.city_official,
    OrganisationKind.vendor: Role.vendor_member,
    OrganisationKind.hub: Role.hub_curator,
    OrganisationKind.programme: Role.programme_coordinator,
    OrganisationKind.platform: Role.admin,
}
ROLE_KIND: dict[Role, OrganisationKind] = {role: kind for kind, role in KIND_ROLE.items()}


def _values(*scopes: Scope) -> frozenset[str]:
    return frozenset(scope.value for scope in scopes)


# The scopes that mean something for a role: tokens are never issued beyond them.
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.city_official: _values(Scope.cities_write, Scope.twinnings_write, Scope.challenges_write, Scope.private_read),
    Role.vendor_member: _values(Scope.vendors_write, Scope.solutions_write, Scope.challenges_write, Scope.private_read),
    Role.hub_curator: _values(Scope.catalogue_write, Scope.private_read),
    Role.programme_coordinator: _values(Scope.twinnings_write, Scope.private_read),
    Role.admin: ALL_SCOPES,
}


def scopes_for_roles(roles: Iterable[Role]) -> frozenset[str]:
    result: set[str] = set()
    for role in roles:
        result |= ROLE_SCOPES[role]
    return frozenset(result)


@dataclass(frozen=True)
class Membership:
    """A role held in one organisation; `target_id` is the city, vendor or hub id (None for the
    programme and the platform)."""

    organisation_id: int
    kind: OrganisationKind
    target_id: int | None
    role: Role


ANONYMOUS_SUBJECT = "anonymous"


@dataclass(frozen=True)
class Principal:
    # "user:12" (a person, through any client), "client:abc" (a machine client), "oidc:<iss>#<sub>"
    # (a token of a trusted external issuer), or "anonymous".
    subject: str
    user_id: int | None = None
    client_id: str | None = None
    memberships: tuple[Membership, ...] = ()
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        return self.subject == ANONYMOUS_SUBJECT

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(m.role for m in self.memberships)

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


ANONYMOUS = Principal(subject=ANONYMOUS_SUBJECT)
