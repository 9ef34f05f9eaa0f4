"""The co-creation state machines, in one place.

Challenge:  open --close--> closed;  open, closed --award--> awarded
Proposal:   submitted --shortlist--> shortlisted;  submitted, shortlisted --accept--> accepted,
            submitted, shortlisted --decline--> declined

Accepting a proposal awards its challenge (and awarding a challenge accepts the chosen proposal): one
winner per challenge; the proposals still in the running are declined at that moment. An illegal action
is a 409 naming the current status and the actions it allows.
"""

from __future__ import annotations

from enum import StrEnum

from app.auth.actions import ActionFace
from app.auth.principal import Scope
from app.challenges.models import ChallengeStatus, ProposalStatus
from app.core.errors import Conflict


class ChallengeAction(StrEnum):
    close = "close"
    award = "award"


class ProposalAction(StrEnum):
    shortlist = "shortlist"
    accept = "accept"
    decline = "decline"


CHALLENGE_TRANSITIONS: dict[ChallengeStatus, dict[ChallengeAction, ChallengeStatus]] = {
    ChallengeStatus.open: {
        ChallengeAction.close: ChallengeStatus.closed,
        ChallengeAction.award: ChallengeStatus.awarded,
    },
    ChallengeStatus.closed: {ChallengeAction.award: ChallengeStatus.awarded},
    ChallengeStatus.awarded: {},
}

PROPOSAL_TRANSITIONS: dict[ProposalStatus, dict[ProposalAction, ProposalStatus]] = {
    ProposalStatus.submitted: {
        ProposalAction.shortlist: ProposalStatus.shortlisted,
        ProposalAction.accept: ProposalStatus.accepted,
        ProposalAction.decline: ProposalStatus.declined,
    },
    ProposalStatus.shortlisted: {
        ProposalAction.accept: ProposalStatus.accepted,
        ProposalAction.decline: ProposalStatus.declined,
    },
    ProposalStatus.accepted: {},
    ProposalStatus.declined: {},
}

# How each action shows on both faces (docs/architecture.md §4, "Each write declared once"): app/challenges/router.py
# and app/challenges/graphql.py name, describe and scope their routes and mutations from these tables (the
# proposal decisions are generated from them, one per action). Every action needs challenges:write; who may
# take it on *that* object is app.auth.permissions' (called by the service).
_WRITE = (Scope.challenges_write,)
CHALLENGE_FACES: dict[ChallengeAction, ActionFace] = {
    ChallengeAction.close: ActionFace(
        "close_challenge", "Close a challenge to new proposals", "the city's officials", _WRITE
    ),
    ChallengeAction.award: ActionFace(
        "award_challenge",
        "Award a challenge to a proposal, which is accepted; the others still pending are declined",
        "the city's officials",
        _WRITE,
    ),
}
PROPOSAL_FACES: dict[ProposalAction, ActionFace] = {
    ProposalAction.shortlist: ActionFace(
        "shortlist_proposal", "Shortlist a proposal", "the challenge's city officials", _WRITE
    ),
    ProposalAction.accept: ActionFace(
        "accept_proposal", "Accept a proposal, which awards the challenge", "the city's officials", _WRITE
    ),
    ProposalAction.decline: ActionFace(
        "decline_proposal", "Decline a proposal", "the challenge's city officials", _WRITE
    ),
}

# Proposals still in the running (declined when another one wins).
PENDING = (ProposalStatus.submitted, ProposalStatus.shortlisted)

_PAST = {"close": "closed", "award": "awarded", "shortlist": "shortlisted", "accept": "accepted", "decline": "declined"}


def _refuse(kind: str, status: StrEnum, action: StrEnum, allowed: list[str]) -> Conflict:
    then = f"the allowed actions are: {', '.join(allowed)}" if allowed else "it is final: no action is allowed"
    return Conflict(
        f"This {kind} is {status.value}, so it cannot be {_PAST[action.value]}; from {status.value} {then}.",
        type_="illegal-transition",
        title="Illegal transition",
        extra={"current_status": status.value, "allowed_actions": allowed},
    )


def challenge_next(status: ChallengeStatus, action: ChallengeAction) -> ChallengeStatus:
    target = CHALLENGE_TRANSITIONS[status].get(action)
    if target is None:
        raise _refuse("challenge", status, action, [a.value for a in CHALLENGE_TRANSITIONS[status]])
    return target


def proposal_next(status: ProposalStatus, action: ProposalAction) -> ProposalStatus:
    target = PROPOSAL_TRANSITIONS[status].get(action)
    if target is None:
        raise _refuse("proposal", status, action, [a.value for a in PROPOSAL_TRANSITIONS[status]])
    return target
