"""Permission-matrix rows for email preferences, password reset and invitations. A person's preferences are their own
(there is no way to name someone else's: "own" and "other" are the same call); password reset is for people
without a token, so anyone, anonymous included, is answered alike (202 for a request, 204 for a confirmation
with a valid token)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from app.cities.models import City
from app.core.models import utcnow
from app.hubs.models import HubCountry
from app.identity.models import Organisation, OrganisationKind, Role
from app.identity.service import sha256_hex
from app.notifications.models import Invitation, PasswordResetToken
from tests.identity.matrix import Call, Row, Scenario, Which, ab

EVERY_PERSON = frozenset(Role)


def _preferences(_scenario: Scenario, _which: Which) -> Call:
    return Call(
        "/api/v1/me/notification-preferences", {"preferences": [{"event_type": "vendor.verified", "channel": "email"}]}
    )


def _request(scenario: Scenario, which: Which) -> Call:
    role = Role.vendor_member if which == "own" else Role.city_official
    return Call("/api/v1/password-reset", {"email": scenario.world.actors[role].email})


def _confirm(scenario: Scenario, which: Which) -> Call:
    role = Role.vendor_member if which == "own" else Role.city_official
    token = f"rst_matrix_{which}_token"
    with scenario.session() as session:
        session.add(
            PasswordResetToken(
                user_id=scenario.world.actors[role].user_id,
                token_hash=sha256_hex(token),
                expires_at=utcnow() + timedelta(hours=1),
            )
        )
    return Call("/api/v1/password-reset/confirm", {"token": token, "new_password": "matrix passphrase 12"})


def _invite(scenario: Scenario, which: Which) -> Call:
    """Own: vendor a, in Norway, which hub a (the curator's) serves from now on; other: a city in Germany."""
    with scenario.session() as session:
        if which == "own":
            session.add(HubCountry(hub_id=scenario.world.hub["a"], country_code="NO"))
            organisation = scenario.world.organisation[(OrganisationKind.vendor, "a")]
        else:
            organisation = (
                session.exec(
                    select(Organisation.id)
                    .join(City, col(City.id) == Organisation.city_id)
                    .where(City.country_code == "DE")
                ).first()
                or 0
            )
    return Call("/api/v1/invitations", {"email": f"invitee-{which}@identity.test", "organisation_id": organisation})


def _accept(scenario: Scenario, which: Which) -> Call:
    token = f"inv_matrix_{which}_token"
    with scenario.session() as session:
        session.add(
            Invitation(
                email=f"invitee-{which}@identity.test",
                organisation_id=scenario.world.organisation[(OrganisationKind.vendor, ab(which))],
                role=Role.vendor_member,
                token_hash=sha256_hex(token),
                expires_at=utcnow() + timedelta(hours=1),
            )
        )
    return Call("/api/v1/invitations/accept", {"token": token, "name": "Invitee", "password": "matrix passphrase 12"})


MAIL_ROWS: list[Row] = [
    # Admins invite (to any organisation), hub curators to the cities and vendors of their hubs' countries;
    # accepting needs only the token mailed.
    Row("POST", "/api/v1/invitations", _invite, own=frozenset({Role.admin, Role.hub_curator})),
    Row("POST", "/api/v1/invitations/accept", _accept, own=EVERY_PERSON, other=EVERY_PERSON, anonymous=True),
    Row("PUT", "/api/v1/me/notification-preferences", _preferences, own=EVERY_PERSON, other=EVERY_PERSON),
    Row(
        "POST",
        "/api/v1/password-reset",
        _request,
        own=EVERY_PERSON,
        other=EVERY_PERSON,
        anonymous=True,
        success=frozenset({202}),
    ),
    Row("POST", "/api/v1/password-reset/confirm", _confirm, own=EVERY_PERSON, other=EVERY_PERSON, anonymous=True),
]
