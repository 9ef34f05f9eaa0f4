"""app.auth.permissions over the role x object grid: each check, for each role holding its role's scopes, on
its own object and on someone else's, and anonymously. Then the same without scopes (nothing is allowed),
and with an admin role but no admin scope (no more than anyone)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from app.auth import permissions
from app.auth.principal import ANONYMOUS, ROLE_KIND, ROLE_SCOPES, Membership, Principal, Scope
from app.core.errors import Forbidden, NotFound
from app.identity.models import OrganisationKind, Role

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)

OWN, OTHER = 1, 2
TARGET_KINDS = (OrganisationKind.city, OrganisationKind.vendor, OrganisationKind.hub)


def principal(role: Role, scopes: frozenset[str] | None = None) -> Principal:
    kind = ROLE_KIND[role]
    return Principal(
        subject=f"user:{role.value}",
        user_id=1,
        memberships=(
            Membership(organisation_id=10, kind=kind, target_id=OWN if kind in TARGET_KINDS else None, role=role),
        ),
        scopes=ROLE_SCOPES[role] if scopes is None else scopes,
    )


Check = Callable[[Principal, int], bool]

# check -> (roles allowed on their own object, roles allowed on someone else's)
C, V, H, P, A = (Role.city_official, Role.vendor_member, Role.hub_curator, Role.programme_coordinator, Role.admin)
GRID: dict[str, tuple[Check, set[Role], set[Role]]] = {
    "edit city": (permissions.can_edit_city, {C, A}, {A}),
    "read a city's private data": (permissions.can_read_city_private, {C, P, A}, {P, A}),
    "edit vendor profile": (permissions.can_edit_vendor, {V, A}, {A}),
    "edit listing": (permissions.can_edit_listing, {V, A}, {A}),
    "read listing drafts": (permissions.can_read_listing_drafts, {V, A}, {A}),
    "review listings": (lambda p, _: permissions.can_review_listings(p), {A}, {A}),
    "curate hub catalogue": (permissions.can_curate_hub, {H, A}, {A}),
    "coordinate twinnings": (lambda p, _: permissions.can_coordinate_twinnings(p), {P, A}, {P, A}),
    "act for a city in a twinning": (permissions.can_act_for_city_in_twinning, {C, P, A}, {P, A}),
    "post challenge": (permissions.can_post_challenge, {C, A}, {A}),
    "propose for vendor": (permissions.can_propose_for_vendor, {V, A}, {A}),
    "manage users and clients": (lambda p, _: permissions.can_manage_identity(p), {A}, {A}),
    "edit KPI framework": (lambda p, _: permissions.can_edit_kpi_framework(p), {A}, {A}),
    "edit search thesaurus": (lambda p, _: permissions.can_edit_thesaurus(p), {A}, {A}),
}

CELLS = [(name, role, which) for name in GRID for role in (None, *Role) for which in ("own", "other")]


@pytest.mark.parametrize(
    ("name", "role", "which"), CELLS, ids=[f"{n}|{r.value if r else 'anonymous'}|{w}" for n, r, w in CELLS]
)
def test_grid(name: str, role: Role | None, which: str) -> None:
    check, own, other = GRID[name]
    caller = ANONYMOUS if role is None else principal(role)
    expected = role is not None and role in (own if which == "own" else other)
    assert check(caller, OWN if which == "own" else OTHER) is expected


@pytest.mark.parametrize("name", GRID)
@pytest.mark.parametrize("role", list(Role))
def test_without_scopes_nothing_is_allowed(name: str, role: Role) -> None:
    check = GRID[name][0]
    bare = principal(role, scopes=frozenset())
    assert check(bare, OWN) is False
    assert check(bare, OTHER) is False


@pytest.mark.parametrize("name", GRID)
def test_an_admin_role_without_the_admin_scope_is_not_an_admin(name: str) -> None:
    check = GRID[name][0]
    no_admin_scope = principal(Role.admin, scopes=frozenset(s.value for s in Scope if s is not Scope.admin))
    assert no_admin_scope.is_admin is False
    assert check(no_admin_scope, OWN) is False


def test_a_role_in_another_organisation_kind_does_not_count() -> None:
    # A city official of city 1 is no vendor member of vendor 1, even with every scope.
    official = principal(Role.city_official, scopes=frozenset(s.value for s in Scope))
    assert permissions.can_edit_listing(official, OWN) is False
    assert permissions.can_edit_city(official, OWN) is True
    # A hand-built membership whose kind does not match its role does not pass either.
    odd = replace(official, memberships=(Membership(10, OrganisationKind.vendor, OWN, Role.city_official),))
    assert permissions.can_edit_city(odd, OWN) is False


def test_several_memberships_add_up() -> None:
    both = Principal(
        subject="user:7",
        user_id=7,
        memberships=(
            Membership(10, OrganisationKind.city, OWN, Role.city_official),
            Membership(11, OrganisationKind.vendor, OTHER, Role.vendor_member),
        ),
        scopes=ROLE_SCOPES[Role.city_official] | ROLE_SCOPES[Role.vendor_member],
    )
    assert permissions.can_edit_city(both, OWN)
    assert permissions.can_edit_listing(both, OTHER)
    assert not permissions.can_edit_city(both, OTHER)
    assert not permissions.can_edit_listing(both, OWN)


def test_require_and_require_visible() -> None:
    permissions.require(True, "ok")
    permissions.require_visible(True, "ok")
    with pytest.raises(Forbidden):
        permissions.require(False, "no")
    with pytest.raises(NotFound):
        permissions.require_visible(False, "no such thing")


def test_anonymous_is_anonymous_and_tokens_are_not() -> None:
    assert ANONYMOUS.is_anonymous
    assert not principal(Role.admin).is_anonymous
    # A trusted external issuer's principal has neither a local user nor necessarily a client id.
    assert not Principal(subject="oidc:https://idp.example#abc").is_anonymous
