"""The twinning state machine, in one place (docs/design.md §3, "Lifecycles").

    proposed --accept--> accepted --activate--> active --complete--> completed
    proposed --decline--> declined
    proposed, accepted --lapse--> lapsed

Who may take each action is `app.auth.permissions`' (see `app.twinnings.service`); which actions the
current status allows is this module's. An illegal action is a 409 naming the current status and the
actions it allows.
"""

from __future__ import annotations

from enum import StrEnum

from app.auth.actions import ActionFace
from app.auth.principal import Scope
from app.core.errors import Conflict
from app.twinnings.models import TwinningStatus


class TwinningAction(StrEnum):
    accept = "accept"
    decline = "decline"
    activate = "activate"
    complete = "complete"
    lapse = "lapse"


TRANSITIONS: dict[TwinningStatus, dict[TwinningAction, TwinningStatus]] = {
    TwinningStatus.proposed: {
        TwinningAction.accept: TwinningStatus.accepted,
        TwinningAction.decline: TwinningStatus.declined,
        TwinningAction.lapse: TwinningStatus.lapsed,
    },
    TwinningStatus.accepted: {
        TwinningAction.activate: TwinningStatus.active,
        TwinningAction.lapse: TwinningStatus.lapsed,
    },
    TwinningStatus.active: {TwinningAction.complete: TwinningStatus.completed},
    TwinningStatus.completed: {},
    TwinningStatus.declined: {},
    TwinningStatus.lapsed: {},
}

# How each action shows on both faces: app/twinnings/router.py makes one REST route per action from this table,
# app/twinnings/graphql.py one mutation (docs/architecture.md §4, "Each write declared once"). Every action needs
# twinnings:write; who may take it on *that* twinning is app.auth.permissions' (called by the service).
_WRITE = (Scope.twinnings_write,)
_INVITED = "the invited city's officials, or the programme"
_EITHER = "either city's officials, or the programme"
FACES: dict[TwinningAction, ActionFace] = {
    TwinningAction.accept: ActionFace("accept_twinning", "Accept a proposed twinning", _INVITED, _WRITE),
    TwinningAction.decline: ActionFace("decline_twinning", "Decline a proposed twinning", _INVITED, _WRITE),
    TwinningAction.activate: ActionFace("activate_twinning", "Start an accepted twinning", _EITHER, _WRITE),
    TwinningAction.complete: ActionFace("complete_twinning", "Complete an active twinning", _EITHER, _WRITE),
    TwinningAction.lapse: ActionFace(
        "lapse_twinning", "Declare a proposed or accepted twinning lapsed", "the programme", _WRITE
    ),
}

# A pair of cities has at most one twinning in these statuses at a time.
OPEN_STATUSES = (TwinningStatus.proposed, TwinningStatus.accepted, TwinningStatus.active)

PAST_TENSE = {
    TwinningAction.accept: "accepted",
    TwinningAction.decline: "declined",
    TwinningAction.activate: "activated",
    TwinningAction.complete: "completed",
    TwinningAction.lapse: "lapsed",
}


def allowed_actions(status: TwinningStatus) -> list[str]:
    return [action.value for action in TRANSITIONS[status]]


def next_status(status: TwinningStatus, action: TwinningAction) -> TwinningStatus:
    """The status `action` leads to from `status`; 409 when it is not allowed from there."""
    target = TRANSITIONS[status].get(action)
    if target is None:
        allowed = allowed_actions(status)
        then = f"the allowed actions are: {', '.join(allowed)}" if allowed else "it is final: no action is allowed"
        raise Conflict(
            f"This twinning is {status.value}, so it cannot be {PAST_TENSE[action]}; from {status.value} {then}.",
            type_="illegal-transition",
            title="Illegal transition",
            extra={"current_status": status.value, "allowed_actions": allowed},
        )
    return target
