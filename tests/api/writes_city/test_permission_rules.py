"""The city-side rules of app.auth.permissions, on hand-built principals (each role with its role's scopes)."""

from __future__ import annotations

from app.auth import permissions
from app.auth.principal import ANONYMOUS, ROLE_KIND, ROLE_SCOPES, Membership, Principal
from app.identity.models import OrganisationKind, Role

OWN, OTHER, THIRD = 1, 2, 3
TARGETED = (OrganisationKind.city, OrganisationKind.vendor, OrganisationKind.hub)


def who(role: Role, scopes: frozenset[str] | None = None, user_id: int = 5) -> Principal:
    kind = ROLE_KIND[role]
    target = OWN if kind in TARGETED else None
    return Principal(
        subject=f"user:{user_id}",
        user_id=user_id,
        memberships=(Membership(10, kind, target, role),),
        scopes=ROLE_SCOPES[role] if scopes is None else scopes,
    )


def allowed(check: object, *args: object) -> set[Role]:
    assert callable(check)
    return {role for role in Role if check(who(role), *args)}


def test_onboarding_a_city() -> None:
    assert allowed(permissions.can_onboard_city, [OWN]) == {Role.hub_curator, Role.admin}
    assert allowed(permissions.can_onboard_city, [OTHER, THIRD]) == {Role.admin}
    assert allowed(permissions.can_onboard_city, []) == {Role.admin}
    assert not permissions.can_onboard_city(who(Role.hub_curator, scopes=frozenset({"cities:write"})), [OWN])
    assert not permissions.can_onboard_city(ANONYMOUS, [OWN])


def test_verifying_values_is_the_platforms() -> None:
    assert allowed(permissions.can_verify_kpi_values) == {Role.admin}


def test_answering_and_running_twinnings() -> None:
    programme = {Role.programme_coordinator, Role.admin}
    # The partner proposed: our official answers. We proposed: only the programme (or the partner) answers.
    assert allowed(permissions.can_answer_twinning, (OWN, THIRD), THIRD) == {Role.city_official, *programme}
    assert allowed(permissions.can_answer_twinning, (OWN, THIRD), OWN) == programme
    assert allowed(permissions.can_answer_twinning, (OWN, THIRD), None) == {Role.city_official, *programme}
    assert allowed(permissions.can_answer_twinning, (OTHER, THIRD), THIRD) == programme
    assert allowed(permissions.can_run_twinning, (THIRD, OWN)) == {Role.city_official, *programme}
    assert allowed(permissions.can_run_twinning, (THIRD, OTHER)) == programme
    # Without twinnings:write, an official does neither.
    official = who(Role.city_official, scopes=frozenset({"cities:write", "challenges:write"}))
    assert not permissions.can_answer_twinning(official, (OWN, THIRD), THIRD)
    assert not permissions.can_run_twinning(official, (OWN, THIRD))


def test_commenting() -> None:
    assert allowed(permissions.can_comment_on_challenge, OWN, True) == {
        Role.city_official,
        Role.vendor_member,
        Role.admin,
    }
    assert allowed(permissions.can_comment_on_challenge, OWN, False) == {Role.city_official, Role.admin}
    assert allowed(permissions.can_comment_on_challenge, OTHER, True) == {Role.vendor_member, Role.admin}
    assert allowed(permissions.can_comment_on_proposal, OWN, OTHER) == {Role.city_official, Role.admin}
    assert allowed(permissions.can_comment_on_proposal, OTHER, OWN) == {Role.vendor_member, Role.admin}
    assert allowed(permissions.can_comment_on_proposal, OTHER, OTHER) == {Role.admin}
    vendor_without_scope = who(Role.vendor_member, scopes=frozenset({"solutions:write"}))
    assert not permissions.can_comment_on_challenge(vendor_without_scope, OTHER, True)


def test_deleting_a_comment() -> None:
    # Each role's user is user 5 here, the author; curators and coordinators have no challenges:write.
    assert allowed(permissions.can_delete_comment, 5) == {Role.city_official, Role.vendor_member, Role.admin}
    assert allowed(permissions.can_delete_comment, 6) == {Role.admin}
    assert allowed(permissions.can_delete_comment, None) == {Role.admin}
    assert not permissions.can_delete_comment(who(Role.vendor_member, scopes=frozenset({"private:read"})), 5)
    assert not permissions.can_delete_comment(ANONYMOUS, None)
