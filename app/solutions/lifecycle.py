"""The listing lifecycle (docs/design.md §3, "Lifecycles"): ONE state machine, checked here and nowhere else.

```
            submit              publish
  draft ------------> submitted ---------> published
    ^  <------------      |  |                 |
    |     withdraw        |  +-- reject --> rejected
    |                     |                    |
    |   request-changes   v                    |
    |         changes_requested --submit--> submitted
    |                     |                    |
    +---- restore ---- archived <-- archive ---+  (from draft, changes_requested, rejected, published)
```

- The vendor (a member with `solutions:write`, or an admin) submits, withdraws, archives and restores.
- The platform's reviewers (admins) publish, request changes or reject, the last two with a note.
- Only `published` listings are public and searchable. A listing is edited in `draft`, `changes_requested`
  and `published` (an edit of a published listing keeps it published, and its audit event holds the diff);
  under review (`submitted`) it is frozen until withdrawn or decided; `rejected` and `archived` ones are
  restored or archived first.
- Submitting and publishing need a complete listing (`missing_for_publication`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.auth import permissions
from app.auth.actions import ActionFace
from app.auth.principal import Principal, Scope
from app.core.errors import Conflict, InvalidInput
from app.solutions.models import ListingStatus


class Action(StrEnum):
    # The values are the REST path segments: POST /api/v1/solutions/{id}/<action>.
    submit = "submit"
    withdraw = "withdraw"
    request_changes = "request-changes"
    publish = "publish"
    reject = "reject"
    archive = "archive"
    restore = "restore"


class Actor(StrEnum):
    vendor = "vendor"  # the listing's vendor (its members with solutions:write) or an admin
    reviewer = "reviewer"  # the platform's reviewers (admins)


# What each actor's token needs, on either face (the service then checks the right on the listing itself):
# the vendor's moves need solutions:write, the reviewers' any token (review is an admin's right, not a scope).
ACTOR_SCOPES: dict[Actor, tuple[Scope, ...]] = {Actor.vendor: (Scope.solutions_write,), Actor.reviewer: ()}


@dataclass(frozen=True)
class Transition:
    """One move: where it applies, where it leads, who takes it, and how both faces show it (the REST route
    and the GraphQL mutation are generated from this table: docs/architecture.md §4, "Each write declared once")."""

    action: Action
    sources: frozenset[ListingStatus]
    target: ListingStatus
    actor: Actor
    face: ActionFace
    note_required: bool = False


def _move(
    action: Action,
    sources: set[ListingStatus],
    target: ListingStatus,
    actor: Actor,
    name: str,
    summary: str,
    who: str,
    note_required: bool = False,
) -> Transition:
    face = ActionFace(name=name, summary=summary, who=who, scopes=ACTOR_SCOPES[actor])
    return Transition(action, frozenset(sources), target, actor, face, note_required)


S = ListingStatus
TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        _move(
            Action.submit,
            {S.draft, S.changes_requested},
            S.submitted,
            Actor.vendor,
            "submit_solution",
            "Submit a draft (or a listing with changes requested) for review",
            "vendor",
        ),
        _move(
            Action.withdraw,
            {S.submitted},
            S.draft,
            Actor.vendor,
            "withdraw_solution",
            "Withdraw a submitted listing from review, back to draft",
            "vendor",
        ),
        _move(
            Action.request_changes,
            {S.submitted},
            S.changes_requested,
            Actor.reviewer,
            "request_solution_changes",
            "Send a submitted listing back to its vendor with a note",
            "admins",
            note_required=True,
        ),
        _move(
            Action.publish,
            {S.submitted},
            S.published,
            Actor.reviewer,
            "publish_solution",
            "Publish a submitted, complete listing",
            "admins",
        ),
        _move(
            Action.reject,
            {S.submitted},
            S.rejected,
            Actor.reviewer,
            "reject_solution",
            "Reject a submitted listing with a note",
            "admins",
            note_required=True,
        ),
        _move(
            Action.archive,
            {S.draft, S.changes_requested, S.rejected, S.published},
            S.archived,
            Actor.vendor,
            "archive_solution",
            "Archive a listing: draft, changes requested, rejected or published",
            "vendor or admins",
        ),
        _move(
            Action.restore,
            {S.archived},
            S.draft,
            Actor.vendor,
            "restore_solution",
            "Restore an archived listing as a draft",
            "vendor or admins",
        ),
    )
}

# Where the listing's content may be edited (PATCH), and where it may be deleted (DELETE).
EDITABLE: frozenset[ListingStatus] = frozenset({S.draft, S.changes_requested, S.published})
# Moves that complete a listing's review: they need what publication needs.
NEEDS_COMPLETE: frozenset[Action] = frozenset({Action.submit, Action.publish})


def may_act(principal: Principal, actor: Actor, vendor_id: int) -> bool:
    if actor is Actor.reviewer:
        return permissions.can_review_listings(principal)
    return permissions.can_edit_listing(principal, vendor_id)


def actions_from(status: ListingStatus) -> list[Action]:
    """Every move out of `status`, in declaration order."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources]


def allowed_actions(principal: Principal, status: ListingStatus, vendor_id: int) -> list[Action]:
    """The moves out of `status` that this caller may make."""
    return [a for a in actions_from(status) if may_act(principal, TRANSITIONS[a].actor, vendor_id)]


class IllegalTransition(Conflict):
    type_, title = "illegal-transition", "Illegal transition"


class ListingIncomplete(InvalidInput):
    type_, title = "listing-incomplete", "Listing incomplete"


def _moves(actions: Sequence[Action]) -> str:
    return ", ".join(a.value for a in actions) if actions else "none"


def check_transition(principal: Principal, status: ListingStatus, vendor_id: int, action: Action) -> Transition:
    """The transition `action` makes from `status`; 409 (naming the current state and the caller's moves)
    when it is not a move out of this state. The caller's right to the action itself is checked first, by the
    service (403)."""
    transition = TRANSITIONS[action]
    if status not in transition.sources:
        allowed = allowed_actions(principal, status, vendor_id)
        raise IllegalTransition(
            f"A {status.value} listing cannot be {past_tense(action)}: {action.value} applies to "
            f"{', '.join(sorted(s.value for s in transition.sources))} listings. "
            f"From {status.value} you may: {_moves(allowed)}.",
            extra={
                "current_status": status.value,
                "allowed_actions": [a.value for a in allowed],
            },
        )
    return transition


def check_editable(principal: Principal, status: ListingStatus, vendor_id: int) -> None:
    if status in EDITABLE:
        return
    allowed = allowed_actions(principal, status, vendor_id)
    why = {
        S.submitted: "it is under review; withdraw it to edit it, or wait for the review",
        S.rejected: "it was rejected; archive it, restore it as a draft and edit that",
        S.archived: "it is archived; restore it as a draft first",
    }.get(status, "of its status")
    raise IllegalTransition(
        f"A {status.value} listing cannot be edited: {why}. From {status.value} you may: {_moves(allowed)}.",
        extra={"current_status": status.value, "allowed_actions": [a.value for a in allowed]},
    )


def missing_for_publication(
    *, title: str, summary: str, categories: Sequence[str], countries: Sequence[str], impacts: int
) -> list[str]:
    """What a listing lacks to be submitted or published (empty when complete)."""
    missing = []
    if not title.strip():
        missing.append("title")
    if not summary.strip():
        missing.append("summary")
    if not categories:
        missing.append("categories")
    if not countries:
        missing.append("countries")
    if impacts == 0:
        missing.append("kpi_impacts")
    return missing


def require_complete(missing: Sequence[str], doing: str) -> None:
    if missing:
        raise ListingIncomplete(
            f"The listing cannot be {doing}: it needs {', '.join(missing)} "
            "(a title, a summary, at least one category and one country, and at least one KPI impact claim).",
            extra={"missing": list(missing)},
        )


def past_tense(action: Action) -> str:
    return {
        Action.submit: "submitted",
        Action.withdraw: "withdrawn",
        Action.request_changes: "sent back for changes",
        Action.publish: "published",
        Action.reject: "rejected",
        Action.archive: "archived",
        Action.restore: "restored",
    }[action]
