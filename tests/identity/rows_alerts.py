"""Permission-matrix rows for saved alerts. An alert is its owner's alone: every person may create, change and delete
their own ("own": the caller's alert); someone else's ("other": an alert of another person) is nobody else's to
change, not even an admin's (404, as for a feed entry)."""

from __future__ import annotations

from sqlmodel import col, select

from app.core.concurrency import etag
from app.identity.models import OAuthToken, Role, User
from app.notifications.models import Alert, AlertTarget
from tests.identity.matrix import Call, Row, Scenario, Which

EVERY_PERSON = frozenset(Role)
BODY = {"name": "Water loss in Norway", "solution_filters": {"kpi": "EC-I-WS-3C", "country": "NO"}}


def _create(_scenario: Scenario, _which: Which) -> Call:
    return Call("/api/v1/me/alerts", BODY)


def _caller(scenario: Scenario) -> int:
    """The person the cell calls as: an allowed cell runs on a database of its own where only the caller's token
    was minted (the newest token); the refused cells share one where "own" is refused to anonymous callers only,
    so any person's alert will do there."""
    with scenario.session() as session:
        newest = session.exec(
            select(OAuthToken.user_id).where(col(OAuthToken.user_id).is_not(None)).order_by(col(OAuthToken.id).desc())
        ).first()
    assert newest is not None
    return newest


def _alert(scenario: Scenario, which: Which) -> int:
    """The caller's own alert ("own"), or one of a person outside the matrix's roles ("other")."""
    owner = _caller(scenario) if which == "own" else None
    with scenario.session() as session:
        if owner is None:
            user = User(email="alert-owner@identity.test", name="alert owner")
            session.add(user)
            session.flush()
            owner = user.id or 0
        row = Alert(user_id=owner, name=f"matrix {which}", target=AlertTarget.solutions, filters={"country": "NO"})
        session.add(row)
        session.flush()
        return row.id or 0


def _patch(scenario: Scenario, which: Which) -> Call:
    alert_id = _alert(scenario, which)
    return Call(f"/api/v1/me/alerts/{alert_id}", {"name": "renamed"}, {"If-Match": etag("alert", alert_id, 1)})


def _delete(scenario: Scenario, which: Which) -> Call:
    return Call(f"/api/v1/me/alerts/{_alert(scenario, which)}")


ALERT_ROWS: list[Row] = [
    # Creating names nobody else: "own" and "other" are the same call, and every person may make one.
    Row("POST", "/api/v1/me/alerts", _create, own=EVERY_PERSON, other=EVERY_PERSON),
    Row("PATCH", "/api/v1/me/alerts/{alert_id}", _patch, own=EVERY_PERSON, other=frozenset()),
    Row("DELETE", "/api/v1/me/alerts/{alert_id}", _delete, own=EVERY_PERSON, other=frozenset()),
]
