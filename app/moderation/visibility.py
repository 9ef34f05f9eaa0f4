"""What other domains ask of moderation: is an item hidden, may this account post. (No other domain's
service is imported here, so that every domain may import this module.)"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.auth import permissions
from app.auth.principal import Principal
from app.core.errors import Forbidden
from app.hubs.models import HubCountry
from app.moderation.models import AccountBlock, ContentKind, ModeratedItem
from app.solutions.models import SolutionCountry


class AccountBlocked(Forbidden):
    type_, title = "account-blocked", "Account blocked"


def hidden_ids(kind: ContentKind) -> Any:
    """The ids of the items of this kind hidden pending review (or by a moderator), as a subquery."""
    return select(ModeratedItem.object_id).where(col(ModeratedItem.kind) == kind, col(ModeratedItem.hidden))


def hidden_filter(
    principal: Principal,
    kind: ContentKind,
    id_column: Any,
    author_column: Any = None,
) -> sa.ColumnElement[bool] | None:
    """The SQL condition that leaves out the hidden items the caller may not see (None: it sees them all):
    moderators see every item, an author their own."""
    if permissions.can_moderate(principal):
        return None
    visible: sa.ColumnElement[bool] = id_column.not_in(hidden_ids(kind))
    if author_column is not None and principal.user_id is not None:
        return sa.or_(visible, author_column == principal.user_id)
    return visible


def moderated_listing_ids(hub_ids: frozenset[int]) -> Any:
    """The ids of the listings offered in a country of these hubs (the listings their curators moderate)."""
    countries = select(HubCountry.country_code).where(col(HubCountry.hub_id).in_(sorted(hub_ids)))
    return select(SolutionCountry.solution_id).where(col(SolutionCountry.country_code).in_(countries))


def listing_hubs(session: Session, solution_id: int) -> set[int]:
    """The hubs a listing is about: those with a country it is offered in."""
    offered = select(SolutionCountry.country_code).where(col(SolutionCountry.solution_id) == solution_id)
    return set(session.exec(select(HubCountry.hub_id).where(col(HubCountry.country_code).in_(offered))).all())


def is_hidden(session: Session, kind: ContentKind, object_id: int) -> bool:
    item = session.get(ModeratedItem, (kind, object_id))
    return item is not None and item.hidden


def is_blocked(session: Session, user_id: int | None) -> bool:
    return user_id is not None and session.get(AccountBlock, user_id) is not None


def require_may_post(session: Session, principal: Principal) -> None:
    """403 (type account-blocked) for an account a moderator blocked from posting."""
    if not permissions.may_post(is_blocked(session, principal.user_id)):
        raise AccountBlocked(
            "This account is blocked from posting (comments, proposals, clarifications and reports) by a "
            "moderator. Ask the platform's moderators to review the block."
        )
