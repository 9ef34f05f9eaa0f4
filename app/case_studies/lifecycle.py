"""The editorial state machine, in one place: case studies and procurement guidelines (docs/design.md §3).

    draft --publish--> published --archive--> archived --publish--> published
    draft --archive--> archived

Who may move editorial content is `app.auth.permissions`' (the platform's editors); which moves the
current status allows is this module's. An illegal move is a 409 naming the current status and the moves
it allows.
"""

from __future__ import annotations

from enum import StrEnum

from app.case_studies.models import ContentStatus
from app.solutions.lifecycle import IllegalTransition


class EditorialAction(StrEnum):
    publish = "publish"
    archive = "archive"


# action -> (the statuses it applies to, the status it leads to)
EDITORIAL_TRANSITIONS: dict[EditorialAction, tuple[frozenset[ContentStatus], ContentStatus]] = {
    EditorialAction.publish: (frozenset({ContentStatus.draft, ContentStatus.archived}), ContentStatus.published),
    EditorialAction.archive: (frozenset({ContentStatus.draft, ContentStatus.published}), ContentStatus.archived),
}


def editorial_transition(kind: str, status: ContentStatus, action: EditorialAction) -> ContentStatus:
    """The status `action` leads to from `status`; 409 naming the current status and the possible moves."""
    sources, target = EDITORIAL_TRANSITIONS[action]
    if status not in sources:
        allowed = [a.value for a, (s, _) in EDITORIAL_TRANSITIONS.items() if status in s]
        raise IllegalTransition(
            f"A {status.value} {kind} cannot be {action.value}ed: {action.value} applies to "
            f"{', '.join(sorted(s.value for s in sources))} ones. From {status.value} you may: "
            f"{', '.join(allowed) or 'none'}.",
            extra={"current_status": status.value, "allowed_actions": allowed},
        )
    return target
