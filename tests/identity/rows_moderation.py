"""Permission-matrix rows for moderation. Reporting: every person, on any item they can see (here a public
comment on a challenge). Hiding, restoring, blocking and unblocking: moderators (admins) only."""

from __future__ import annotations

from datetime import date

from app.challenges.models import Challenge, Comment
from app.identity.models import Role
from app.moderation.models import AccountBlock
from tests.identity.matrix import Builder, Call, Row, Scenario, Which, ab

EVERY_PERSON = frozenset(Role)
ADMIN = frozenset({Role.admin})


def public_comment(scenario: Scenario, which: Which) -> int:
    """A comment on an open challenge of city a or b, by that city's official."""
    with scenario.session() as session:
        challenge = Challenge(city_id=scenario.world.city[ab(which)], title=f"Leaks {which}", deadline=date(2099, 1, 1))
        session.add(challenge)
        session.flush()
        comment = Comment(
            challenge_id=challenge.id,
            author_user_id=scenario.world.actors[Role.city_official].user_id,
            author_label="City",
            body=f"comment {which}",
        )
        session.add(comment)
        session.flush()
        return comment.id or 0


def _report(scenario: Scenario, which: Which) -> Call:
    body = {"kind": "comment", "object_id": public_comment(scenario, which), "reason": "spam", "note": "matrix"}
    return Call("/api/v1/moderation/reports", body)


def _decide(action: str) -> Builder:
    def build(scenario: Scenario, which: Which) -> Call:
        return Call(f"/api/v1/moderation/items/comment/{public_comment(scenario, which)}/{action}", {"note": "m"})

    return build


def _user(scenario: Scenario, which: Which) -> int:
    # "own": an account of the caller's side (the vendor member); "other": the hub curator's.
    return scenario.world.actors[Role.vendor_member if which == "own" else Role.hub_curator].user_id


def _block(scenario: Scenario, which: Which) -> Call:
    return Call(f"/api/v1/moderation/blocks/{_user(scenario, which)}", {"reason": "matrix"})


def _unblock(scenario: Scenario, which: Which) -> Call:
    user_id = _user(scenario, which)
    with scenario.session() as session:
        session.add(AccountBlock(user_id=user_id, reason="matrix"))
    return Call(f"/api/v1/moderation/blocks/{user_id}")


MODERATION_ROWS: list[Row] = [
    Row("POST", "/api/v1/moderation/reports", _report, own=EVERY_PERSON, other=EVERY_PERSON),
    Row("POST", "/api/v1/moderation/items/{kind}/{object_id}/hide", _decide("hide"), own=ADMIN),
    Row("POST", "/api/v1/moderation/items/{kind}/{object_id}/restore", _decide("restore"), own=ADMIN),
    Row("PUT", "/api/v1/moderation/blocks/{user_id}", _block, own=ADMIN),
    Row("DELETE", "/api/v1/moderation/blocks/{user_id}", _unblock, own=ADMIN),
]
