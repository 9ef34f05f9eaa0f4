"""What other domains ask of moderation: is an item hidden, who still sees it, which hub's curators moderate
it, may this account post. (No other domain's service is imported here, so that every domain may import this
module.)

The one rule, "a hidden item leaves every public read", in the three forms its readers need
(docs/architecture.md §4):
- a SQL predicate: `not_hidden` (the public's), `hidden_filter` (what a given caller still sees: moderators
  every item, a hub curator the items about their hub's countries, an owner their own);
- a NumPy mask for the matching store: `hidden_object_ids` read in a store section, then `shown_mask`;
- "public means published" with it: `public_listing` and `public_case_study`, the SQL the public reads,
  hubs, vendors' counts and the search documents use;
- a filter for the search documents: the builders of `app.search_index.documents` add `not_hidden` to their
  statement, and the search outbox (`app.search_index.outbox`) re-indexes an item when its state changes.
Which countries an item is about (so which hubs' curators moderate it) is `item_countries`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.auth import permissions
from app.auth.principal import Principal
from app.case_studies.models import CaseStudy, ContentStatus
from app.challenges.models import Challenge, Clarification, Comment, Proposal
from app.cities.models import City
from app.core.errors import Forbidden
from app.hubs.models import HubCountry
from app.moderation.models import AccountBlock, ContentKind, ModeratedItem
from app.solutions.models import ListingStatus, Solution, SolutionCountry

if TYPE_CHECKING:  # NumPy is imported by the two store helpers only: the search CLI must not load it
    import numpy as np
    import numpy.typing as npt


class AccountBlocked(Forbidden):
    type_, title = "account-blocked", "Account blocked"


def hidden_ids(kind: ContentKind) -> Any:
    """The ids of the items of this kind hidden pending review (or by a moderator), as a subquery."""
    return select(ModeratedItem.object_id).where(col(ModeratedItem.kind) == kind, col(ModeratedItem.hidden))


def not_hidden(kind: ContentKind, id_column: Any) -> sa.ColumnElement[bool]:
    """The public's rule in SQL: the rows of this kind that are not hidden."""
    condition: sa.ColumnElement[bool] = id_column.not_in(hidden_ids(kind))
    return condition


def public_listing() -> sa.ColumnElement[bool]:
    """What the public sees of the catalogue, in SQL: published listings that moderation has not hidden (the
    listing API for the public, a hub's public catalogue, a vendor's count, the search documents)."""
    return sa.and_(col(Solution.status) == ListingStatus.published, not_hidden(ContentKind.listing, col(Solution.id)))


def public_case_study() -> sa.ColumnElement[bool]:
    """The same rule for case studies: published, and not hidden (the search documents)."""
    return sa.and_(
        col(CaseStudy.status) == ContentStatus.published, not_hidden(ContentKind.case_study, col(CaseStudy.id))
    )


# ------------------------------------------------------------------------------ which countries an item is about


def _challenge_countries() -> Any:
    return select(Challenge.id, City.country_code).join(City, col(City.id) == Challenge.city_id)


def item_countries(kind: ContentKind) -> Any:
    """(object id, country code) of every item of this kind and each country it is about: a listing's are
    where it is offered; a case study's its city's; a proposal's, a clarification's and a comment's the
    country of the city that posted the challenge (a comment on a proposal: that proposal's challenge)."""
    if kind is ContentKind.listing:
        return select(SolutionCountry.solution_id, SolutionCountry.country_code)
    if kind is ContentKind.case_study:
        return select(CaseStudy.id, City.country_code).join(City, col(City.id) == CaseStudy.city_id)
    challenge = _challenge_countries().subquery()
    if kind is ContentKind.proposal:
        return select(Proposal.id, challenge.c.country_code).join(challenge, challenge.c.id == Proposal.challenge_id)
    if kind is ContentKind.clarification:
        return select(Clarification.id, challenge.c.country_code).join(
            challenge, challenge.c.id == Clarification.challenge_id
        )
    on_challenge = select(Comment.id, challenge.c.country_code).join(challenge, challenge.c.id == Comment.challenge_id)
    on_proposal = (
        select(Comment.id, challenge.c.country_code)
        .join(Proposal, col(Proposal.id) == Comment.proposal_id)
        .join(challenge, challenge.c.id == Proposal.challenge_id)
    )
    return on_challenge.union_all(on_proposal)


def moderated_ids(kind: ContentKind, hub_ids: Iterable[int]) -> Any:
    """The ids of the items of this kind about a country of these hubs (those their curators moderate)."""
    countries = select(HubCountry.country_code).where(col(HubCountry.hub_id).in_(sorted(set(hub_ids))))
    about = item_countries(kind).subquery()
    id_column, country_column = list(about.c)
    return select(id_column).where(country_column.in_(countries))


def item_hubs(session: Session, kind: ContentKind, object_id: int) -> set[int]:
    """The hubs an item is about: those serving a country it is about (`item_countries`)."""
    about = item_countries(kind).subquery()
    id_column, country_column = list(about.c)
    countries = select(country_column).where(id_column == object_id)
    return set(session.exec(select(HubCountry.hub_id).where(col(HubCountry.country_code).in_(countries))).all())


# ------------------------------------------------------------------------------------------ who sees it hidden


def hidden_filter(
    principal: Principal,
    kind: ContentKind,
    id_column: Any,
    owner: sa.ColumnElement[bool] | None = None,
) -> sa.ColumnElement[bool] | None:
    """The SQL condition that leaves out the hidden items the caller may not see (None: it sees them all):
    admins see every item, a hub curator the items about their hub's countries, and `owner` (a condition on
    the row: its author, a proposal's vendor) marks those the caller still sees as their own."""
    if permissions.can_moderate(principal):
        return None
    visible = not_hidden(kind, id_column)
    hubs = permissions.moderated_hubs(principal)
    if hubs:
        visible = sa.or_(visible, id_column.in_(moderated_ids(kind, hubs)))
    return visible if owner is None else sa.or_(visible, owner)


def authored_by(principal: Principal, author_column: Any) -> sa.ColumnElement[bool] | None:
    """`owner` for `hidden_filter` where the owner is the person who wrote the row (None for a machine)."""
    if principal.user_id is None:
        return None
    condition: sa.ColumnElement[bool] = author_column == principal.user_id
    return condition


def is_hidden(session: Session, kind: ContentKind, object_id: int) -> bool:
    item = session.get(ModeratedItem, (kind, object_id))
    return item is not None and item.hidden


def is_hidden_column(kind: ContentKind, id_column: Any) -> sa.ColumnElement[bool]:
    """Whether the row is hidden, as a column of the caller's own statement (no statement of its own)."""
    column: sa.ColumnElement[bool] = id_column.in_(hidden_ids(kind)).label("moderation_hidden")
    return column


def hidden_from(
    session: Session,
    principal: Principal,
    kind: ContentKind,
    object_id: int,
    owner: bool = False,
    hidden: bool | None = None,
) -> bool:
    """`hidden_filter` for one item: True when it is hidden and the caller is neither its owner nor one of its
    moderators (`permissions.can_see_hidden_item`). `hidden`: the item's state when the caller has read it
    already (`is_hidden_column`); then only a hub curator's check runs a statement."""
    if owner or permissions.can_moderate(principal):
        return False
    if not (is_hidden(session, kind, object_id) if hidden is None else hidden):
        return False
    return not permissions.can_see_hidden_item(principal, False, item_hubs(session, kind, object_id))


# ---------------------------------------------------------------------------------------- the matching store


def hidden_object_ids(connection: Any, kind: ContentKind) -> npt.NDArray[np.int64]:
    """The hidden items of this kind, for a store section (which declares `moderated_item` in its covers)."""
    rows = connection.execute(hidden_ids(kind)).all()
    import numpy as np

    return np.asarray([r[0] for r in rows], dtype=np.int64)


def shown_mask(ids: npt.NDArray[np.int64], hidden: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """The store's form of the rule: True for each of `ids` that is not hidden."""
    import numpy as np

    return ~np.isin(ids, hidden)


# The data version's declaration for a store section that reads the hidden state (app.matches.sections).
MODERATED_ITEM_COVERS: dict[str, Any] = {"kind": "key", "object_id": "key", "hidden": "coded"}


# ------------------------------------------------------------------------------------------------- posting


def is_blocked(session: Session, user_id: int | None) -> bool:
    return user_id is not None and session.get(AccountBlock, user_id) is not None


def require_may_post(session: Session, principal: Principal) -> None:
    """403 (type account-blocked) for an account a moderator blocked from posting."""
    if not permissions.may_post(is_blocked(session, principal.user_id)):
        raise AccountBlocked(
            "This account is blocked from posting (comments, proposals, clarifications and reports) by a "
            "moderator. Ask the platform's moderators to review the block."
        )
