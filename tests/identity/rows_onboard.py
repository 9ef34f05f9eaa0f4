"""Permission-matrix rows for onboarding and account management (app/accounts). Sign-up and email verification
are for people without an account or a token: anyone succeeds alike (202 for a sign-up, whatever the email).
Users and memberships are the platform admins' ("own" is the vendor member's account, "other" the city
official's: an admin may not deactivate their own account or drop their own admin role, which the matrix
does not try)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.accounts.models import EmailVerification
from app.core.models import utcnow
from app.identity.models import Membership, OrganisationKind, Role, User
from app.identity.service import create_user, sha256_hex
from tests.identity.matrix import Call, Row, Scenario, Which

EVERY_PERSON = frozenset(Role)
ADMIN = frozenset({Role.admin})


def _person(which: Which) -> Role:
    return Role.vendor_member if which == "own" else Role.city_official


def _signup(_scenario: Scenario, which: Which) -> Call:
    return Call(
        "/api/v1/signup",
        {
            "email": f"signup-{which}@identity.test",
            "password": "matrix passphrase 12",
            "name": "Signing up",
            "vendor_name": f"Matrix Sign-up {which}",
            "country": "NO",
        },
    )


def _verify(scenario: Scenario, which: Which) -> Call:
    token = f"evt_matrix_{which}_token"
    with scenario.session() as session:
        user = create_user(session, email=f"unverified-{which}@identity.test", name="", password="matrix passphrase 12")
        user.email_verified = False
        session.add(user)
        session.flush()
        session.add(
            EmailVerification(
                user_id=user.id or 0, token_hash=sha256_hex(token), expires_at=utcnow() + timedelta(hours=1)
            )
        )
    return Call("/api/v1/signup/verify", {"token": token})


def _active(scenario: Scenario, which: Which) -> Call:
    return Call(f"/api/v1/users/{scenario.world.actors[_person(which)].user_id}/active", {"is_active": False})


def _add_membership(scenario: Scenario, which: Which) -> Call:
    role = _person(which)
    kind = OrganisationKind.vendor if role is Role.vendor_member else OrganisationKind.city
    # The person's own user, joining the "b" organisation of their kind (they are in "a" already).
    return Call(
        f"/api/v1/users/{scenario.world.actors[role].user_id}/memberships",
        {"organisation_id": scenario.world.organisation[(kind, "b")]},
    )


def _remove_membership(scenario: Scenario, which: Which) -> Call:
    with scenario.session() as session:
        user = session.get(User, scenario.world.actors[_person(which)].user_id)
        assert user is not None
        membership = session.exec(select(Membership).where(Membership.user_id == user.id)).one()
    return Call(f"/api/v1/memberships/{membership.id}")


ONBOARD_ROWS: list[Row] = [
    Row(
        "POST",
        "/api/v1/signup",
        _signup,
        own=EVERY_PERSON,
        other=EVERY_PERSON,
        anonymous=True,
        success=frozenset({202}),
    ),
    Row("POST", "/api/v1/signup/verify", _verify, own=EVERY_PERSON, other=EVERY_PERSON, anonymous=True),
    Row("PUT", "/api/v1/users/{user_id}/active", _active, own=ADMIN),
    Row("POST", "/api/v1/users/{user_id}/memberships", _add_membership, own=ADMIN),
    Row("DELETE", "/api/v1/memberships/{membership_id}", _remove_membership, own=ADMIN),
]
