"""Co-creation: challenges (public calls of cities), vendors' proposals, and comments on both.

Proposals are confidential (`app.auth.permissions.can_read_proposal`): while a challenge runs, a proposal is
seen only by its vendor's members, the challenge's city officials and admins; everyone else gets 404 for it,
and only a count on the challenge. Once the challenge is awarded, its `disclosure` (chosen when it was posted)
may make summaries public (`is_proposal_disclosed`): the winner's, or every proposal's; the text and the
comments stay confidential. A proposal is also shown only to callers who may see the listing it proposes.

Who may write what (`app.auth.permissions`, each with the challenges:write scope; admins may do it all):
- a challenge: its city's officials post it, edit it while open, close it and award it;
- a proposal: a member of the vendor whose PUBLISHED solution it proposes, while the challenge is open and
  its deadline (a day, inclusive) has not passed; one proposal per solution per challenge; the vendor edits
  its text while it is submitted (and the challenge still takes proposals); the city's officials
  shortlist, accept or decline it (`app.challenges.lifecycle`: accepting one awards the challenge);
- comments: on a challenge, its city's officials, and any vendor member while the challenge is open
  (clarifying questions are public); on a proposal, the city's officials and the proposing vendor's
  members; the server sets the author (the user) and the label (the city or vendor they speak for).
  A comment is deleted by its author or an admin.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, func, select

from app.audit import service as audit
from app.audit.context import current_request_id
from app.auth import permissions
from app.auth.principal import Principal
from app.challenges.lifecycle import PENDING, ChallengeAction, ProposalAction, challenge_next, proposal_next
from app.challenges.models import (
    Challenge,
    ChallengeCriterion,
    ChallengeKpi,
    ChallengeStatus,
    Clarification,
    Comment,
    Disclosure,
    Proposal,
    ProposalScore,
    ProposalStatus,
)
from app.challenges.schemas import (
    ChallengeAwardIn,
    ChallengeBaseOut,
    ChallengeCreateIn,
    ChallengeOut,
    ChallengeUpdateIn,
    ClarificationAnswerIn,
    ClarificationIn,
    CommentCreateIn,
    CriterionScoreOut,
    ProposalBaseOut,
    ProposalCreateIn,
    ProposalOut,
    ProposalUpdateIn,
    RankedProposalOut,
    RankingOut,
    ScoreOut,
    ScoresIn,
)
from app.challenges.schemas import (
    ChallengeFilters as ChallengeFilters,  # re-exported: the filters the list functions take
)
from app.cities.models import City
from app.cities.service import city_refs
from app.core.concurrency import claim_version
from app.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.identity.models import OrganisationKind, Role
from app.identity.service import PLATFORM_NAME
from app.kpis.service import kpi_ids_for, kpi_refs
from app.moderation.models import ContentKind
from app.moderation.visibility import authored_by, hidden_filter, require_may_post
from app.solutions import service as solutions
from app.solutions.models import ListingStatus, Solution
from app.solutions.schemas import SolutionRefOut
from app.translations.models import TranslatableKind
from app.translations.service import Target, translations_of
from app.vendors.models import Vendor
from app.vendors.schemas import VendorRefOut
from app.vendors.service import vendors_by_id

# Reads the version the caller last saw (REST: If-Match); called after the permission check.
Precondition = Callable[[], int]


@dataclass(frozen=True)
class ProposalFilters:
    vendor: int | None = None
    status: ProposalStatus | None = None


@dataclass(frozen=True)
class CommentFilters:
    challenge: int | None = None
    proposal: int | None = None


# ---------------------------------------------------------------------------------------------- challenges


def list_challenges(session: Session, filters: ChallengeFilters, page: PageRequest) -> PageResult[Challenge]:
    """Challenges, newest first.

    (Soonest deadline first would need `app.core.pagination` cursors to carry dates, which they do not yet.)
    """
    statement = select(Challenge).options(*_challenge_options())
    if filters.city is not None:
        statement = statement.where(col(Challenge.city_id) == filters.city)
    if filters.status:
        statement = statement.where(col(Challenge.status) == filters.status)
    if filters.kpi:
        targeting = select(ChallengeKpi.challenge_id).where(
            col(ChallengeKpi.kpi_id) == solutions.kpi_id_for(filters.kpi)
        )
        statement = statement.where(col(Challenge.id).in_(targeting))
    if filters.deadline_before is not None:
        statement = statement.where(col(Challenge.deadline) <= filters.deadline_before)
    if filters.deadline_after is not None:
        statement = statement.where(col(Challenge.deadline) >= filters.deadline_after)
    return paginate(session, statement, [SortKey(Challenge.id, descending=True)], page)  # type: ignore[arg-type]


def _challenge_options() -> list[Any]:
    return [selectinload(Challenge.target_kpis), selectinload(Challenge.criteria)]  # type: ignore[arg-type]


def get_challenge(session: Session, challenge_id: int) -> Challenge:
    statement = select(Challenge).where(Challenge.id == challenge_id).options(*_challenge_options())
    challenge = session.exec(statement).first()
    if challenge is None:
        raise NotFound(f"No challenge with id {challenge_id}. GET /api/v1/challenges lists them.")
    return challenge


def to_out(session: Session, challenges: Sequence[Challenge]) -> list[ChallengeOut]:
    """Challenges with their city and target KPIs (one statement each for all of them)."""
    cities = city_refs(session, {c.city_id for c in challenges})
    kpis = kpi_refs(session, {k.kpi_id for c in challenges for k in c.target_kpis})
    counts = proposal_counts(session, [c.id or 0 for c in challenges])
    return [
        ChallengeOut(
            **ChallengeBaseOut.from_model(c).model_dump(),
            city=cities[c.city_id],
            target_kpis=sorted((kpis[k.kpi_id] for k in c.target_kpis), key=lambda r: r.code),
            proposal_count=counts.get(c.id or 0, 0),
        )
        for c in challenges
    ]


def proposal_counts(session: Session, challenge_ids: Iterable[int]) -> dict[int, int]:
    """How many proposals each challenge received: what everyone may know of them (one statement)."""
    ids = set(challenge_ids)
    if not ids:
        return {}
    statement = (
        select(Proposal.challenge_id, func.count())
        .where(col(Proposal.challenge_id).in_(ids))
        .group_by(col(Proposal.challenge_id))
    )
    return {challenge_id: count for challenge_id, count in session.exec(statement).all()}


# ---------------------------------------------------------------------------------------------- proposals


def _proposal_not_hidden(principal: Principal) -> sa.ColumnElement[bool] | None:
    """A proposal hidden pending review (app/moderation) is its vendor's and its moderators' only: the
    challenge's city officials do not see it (nor score, rank or award it) until a moderator restores it."""
    readers = permissions.proposal_readers(principal)
    vendors = readers[0] if readers is not None else frozenset()
    owner = col(Proposal.vendor_id).in_(vendors) if vendors else None
    return hidden_filter(principal, ContentKind.proposal, col(Proposal.id), owner)


def _visible_proposals(principal: Principal) -> Any:
    """Proposals the caller may see: in full (`permissions.can_read_proposal`, as ids from
    `permissions.proposal_readers`), or their summary once disclosed (`permissions.is_proposal_disclosed`,
    in SQL); either way only where the caller may see the proposed listing, and not hidden by moderation
    (`_proposal_not_hidden`)."""
    statement = (
        select(Proposal)
        .join(Solution, col(Solution.id) == Proposal.solution_id)
        .join(Challenge, col(Challenge.id) == Proposal.challenge_id)
    )
    visible = solutions.listing_visibility(principal)
    if visible is not None:
        statement = statement.where(visible)
    shown = _proposal_not_hidden(principal)
    if shown is not None:
        statement = statement.where(shown)
    readers = permissions.proposal_readers(principal)
    if readers is None:
        return statement
    vendor_ids, city_ids = readers
    disclosed = sa.and_(
        col(Challenge.status) == ChallengeStatus.awarded,
        sa.or_(
            col(Challenge.disclosure) == Disclosure.all_summaries,
            sa.and_(
                col(Challenge.disclosure) == Disclosure.winner_summary,
                col(Proposal.status) == ProposalStatus.accepted,
            ),
        ),
    )
    return statement.where(
        sa.or_(col(Proposal.vendor_id).in_(vendor_ids), col(Challenge.city_id).in_(city_ids), disclosed)
    )


def visible_proposal_ids(principal: Principal) -> Any:
    """The ids of the proposals `principal` may see (`_visible_proposals`), as a subquery."""
    return _visible_proposals(principal).with_only_columns(col(Proposal.id))


def readable_comment_ids(principal: Principal) -> Any:
    """The ids of the comments `principal` may read, hidden or not: those on a challenge (public), and those
    on a proposal it reads in full (`permissions.can_read_proposal`)."""
    in_full = _visible_proposals(principal).with_only_columns(col(Proposal.id))
    readers = permissions.proposal_readers(principal)
    if readers is not None:
        vendor_ids, city_ids = readers
        in_full = in_full.where(sa.or_(col(Proposal.vendor_id).in_(vendor_ids), col(Challenge.city_id).in_(city_ids)))
    return select(Comment.id).where(
        sa.or_(col(Comment.challenge_id).is_not(None), col(Comment.proposal_id).in_(in_full))
    )


def is_proposal_owner(principal: Principal, proposal: Proposal) -> bool:
    """The caller reads this proposal as its vendor's (who still sees it hidden pending review)."""
    readers = permissions.proposal_readers(principal)
    return readers is not None and proposal.vendor_id in readers[0]


def _cities_of(session: Session, challenge_ids: Iterable[int]) -> dict[int, int]:
    ids = set(challenge_ids)
    if not ids:
        return {}
    rows = session.exec(select(Challenge.id, Challenge.city_id).where(col(Challenge.id).in_(ids))).all()
    return {challenge_id or 0: city_id for challenge_id, city_id in rows}


def proposal_views(session: Session, principal: Principal, proposals: Sequence[Proposal]) -> list[ProposalBaseOut]:
    """What `principal` reads of each (visible) proposal: all of it, or (a disclosed one) no text."""
    cities = _cities_of(session, {p.challenge_id for p in proposals})
    return [
        ProposalBaseOut.from_model(
            p, full=permissions.can_read_proposal(principal, cities[p.challenge_id], p.vendor_id)
        )
        for p in proposals
    ]


def list_proposals(
    session: Session, principal: Principal, challenge_id: int, filters: ProposalFilters, page: PageRequest
) -> PageResult[Proposal]:
    get_challenge(session, challenge_id)  # 404 for an unknown challenge, rather than an empty list
    statement = _visible_proposals(principal).where(col(Proposal.challenge_id) == challenge_id)
    if filters.vendor is not None:
        statement = statement.where(col(Proposal.vendor_id) == filters.vendor)
    if filters.status:
        statement = statement.where(col(Proposal.status) == filters.status)
    # Oldest first, by id: ids grow with insertion, and a datetime would not survive the cursor.
    return paginate(session, statement, [SortKey(Proposal.id)], page)  # type: ignore[arg-type]


def _no_proposal(proposal_id: int) -> NotFound:
    return NotFound(f"No proposal with id {proposal_id}. GET /api/v1/challenges/{{id}}/proposals lists them.")


def get_proposal(session: Session, principal: Principal, proposal_id: int) -> Proposal:
    proposal: Proposal | None = session.exec(_visible_proposals(principal).where(Proposal.id == proposal_id)).first()
    if proposal is None:
        raise _no_proposal(proposal_id)
    return proposal


def get_proposal_in_full(session: Session, principal: Principal, proposal_id: int) -> Proposal:
    """A proposal the caller reads in full (its comments, scores): 404 also where only its summary is public."""
    proposal = get_proposal(session, principal, proposal_id)
    city_id = _cities_of(session, [proposal.challenge_id])[proposal.challenge_id]
    permissions.require_visible(
        permissions.can_read_proposal(principal, city_id, proposal.vendor_id), str(_no_proposal(proposal_id))
    )
    return proposal


def proposals_by_challenge(
    session: Session, principal: Principal, challenge_ids: Iterable[int], status: ProposalStatus | None = None
) -> dict[int, list[ProposalBaseOut]]:
    """The proposals of each challenge that `principal` may see, oldest first, as the caller reads them."""
    statement = _visible_proposals(principal).where(col(Proposal.challenge_id).in_(set(challenge_ids)))
    if status:
        statement = statement.where(col(Proposal.status) == status)
    found: dict[int, list[ProposalBaseOut]] = defaultdict(list)
    proposals = session.exec(statement.order_by(col(Proposal.id))).all()
    for view in proposal_views(session, principal, proposals):
        found[view.challenge_id].append(view)
    return found


def proposals_to_out(session: Session, principal: Principal, proposals: Sequence[Proposal]) -> list[ProposalOut]:
    """Proposals with their vendor and listing (one statement each for all of them), as the caller reads them."""
    vendors = vendors_by_id(session, {p.vendor_id for p in proposals})
    listings = session.exec(select(Solution).where(col(Solution.id).in_({p.solution_id for p in proposals}))).all()
    refs = {s.id: SolutionRefOut.from_model(s) for s in listings}
    return [
        ProposalOut(
            **view.model_dump(),
            vendor=VendorRefOut.from_model(vendors[view.vendor_id]),
            solution=refs[view.solution_id],
        )
        for view in proposal_views(session, principal, proposals)
    ]


# ---------------------------------------------------------------------------------------------- comments


def list_comments(
    session: Session, principal: Principal, filters: CommentFilters, page: PageRequest
) -> PageResult[Comment]:
    """The comments on one challenge or on one proposal, oldest first."""
    if (filters.challenge is None) == (filters.proposal is None):
        raise InvalidInput(
            "Give exactly one of the query parameters `challenge` and `proposal`: the comments of which object?",
            errors=[
                {"field": "query.challenge", "message": "exactly one of challenge, proposal", "type": "missing"},
                {"field": "query.proposal", "message": "exactly one of challenge, proposal", "type": "missing"},
            ],
        )
    statement = select(Comment)
    if filters.challenge is not None:
        get_challenge(session, filters.challenge)
        statement = statement.where(col(Comment.challenge_id) == filters.challenge)
    else:
        assert filters.proposal is not None
        get_proposal_in_full(session, principal, filters.proposal)  # a proposal's comments are as confidential
        statement = statement.where(col(Comment.proposal_id) == filters.proposal)
    # Comments hidden pending review: gone for everyone but their author and moderators.
    visible = hidden_filter(
        principal, ContentKind.comment, col(Comment.id), authored_by(principal, col(Comment.author_user_id))
    )
    if visible is not None:
        statement = statement.where(visible)
    # Oldest first, by id: ids grow with insertion, and a datetime would not survive the cursor.
    return paginate(session, statement, [SortKey(Comment.id)], page)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ writes


def today() -> date:
    return datetime.now(UTC).date()


def _future(deadline: date) -> None:
    if deadline <= today():
        raise InvalidInput(
            f"The deadline must be a future date (after {today().isoformat()}).",
            errors=[{"field": "body.deadline", "message": "must be a future date", "type": "date_future"}],
        )


def _log(
    session: Session, principal: Principal, action: str, kind: str, object_id: int, changes: dict[str, Any]
) -> None:
    audit.record(session, principal, action, kind, object_id, changes, request_id=current_request_id())


def _check_version(kind: str, object_id: int, current: int, if_match: Precondition) -> int:
    expected = if_match()
    if expected != current:
        raise PreconditionFailed(
            f"This {kind} changed since you read it (your version {expected}, now {current}); GET it again and "
            "reapply your change.",
            extra={"current_etag": f'"{kind}-{object_id}-v{current}"'},
        )
    return expected


def _city_name(session: Session, city_id: int) -> str:
    city = session.get(City, city_id)
    return city.name if city is not None else f"city {city_id}"


def _require_city_official(session: Session, principal: Principal, challenge: Challenge, doing: str) -> None:
    permissions.require(
        permissions.can_post_challenge(principal, challenge.city_id),
        f"Only the officials of {_city_name(session, challenge.city_id)} (with challenges:write) and admins may "
        f"{doing}.",
    )


def _challenge_record(challenge: Challenge) -> dict[str, Any]:
    return {
        "city_id": challenge.city_id,
        "title": challenge.title,
        "statement": challenge.statement,
        "original_language": challenge.original_language,
        "deadline": challenge.deadline.isoformat(),
        "status": challenge.status.value,
        "target_kpi_ids": sorted(k.kpi_id for k in challenge.target_kpis),
        "disclosure": challenge.disclosure.value,
        "budget": [challenge.budget_min, challenge.budget_max, challenge.currency],
        "criteria": [[c.name, c.weight] for c in challenge.criteria],
    }


def create_challenge(session: Session, principal: Principal, data: ChallengeCreateIn) -> Challenge:
    if session.get(City, data.city_id) is None:
        raise InvalidInput(
            f"No city with id {data.city_id}.",
            errors=[{"field": "body.city_id", "message": "unknown city", "type": "unknown"}],
        )
    permissions.require(
        permissions.can_post_challenge(principal, data.city_id),
        f"Only the officials of {_city_name(session, data.city_id)} (with challenges:write) and admins may post "
        "its challenges.",
    )
    _future(data.deadline)
    kpi_ids = kpi_ids_for(session, data.target_kpis, "target_kpis")
    challenge = Challenge(
        city_id=data.city_id,
        title=data.title,
        statement=data.statement,
        original_language=data.original_language,
        deadline=data.deadline,
        status=ChallengeStatus.open,
        disclosure=data.disclosure,
        budget_min=data.budget_min,
        budget_max=data.budget_max,
        currency=data.currency,
        created_by_user_id=principal.user_id,
        target_kpis=[],
        criteria=[],
    )
    session.add(challenge)
    session.flush()
    challenge.target_kpis.extend(ChallengeKpi(challenge_id=challenge.id or 0, kpi_id=k) for k in kpi_ids)
    challenge.criteria.extend(
        ChallengeCriterion(
            challenge_id=challenge.id or 0, position=i, name=c.name, description=c.description, weight=c.weight
        )
        for i, c in enumerate(data.criteria)
    )
    session.flush()
    _log(session, principal, "challenge.create", "challenge", challenge.id or 0, _challenge_record(challenge))
    return challenge


def update_challenge(
    session: Session, principal: Principal, challenge_id: int, if_match: Precondition, data: ChallengeUpdateIn
) -> Challenge:
    challenge = get_challenge(session, challenge_id)
    _require_city_official(session, principal, challenge, "edit this challenge")
    expected = _check_version("challenge", challenge_id, challenge.version, if_match)
    if challenge.status is not ChallengeStatus.open:
        raise Conflict(
            f"This challenge is {challenge.status.value}: only an open challenge can be edited.",
            type_="illegal-transition",
            title="Illegal transition",
            extra={"current_status": challenge.status.value},
        )
    given = data.model_dump(exclude_unset=True)
    if "deadline" in given:
        _future(data.deadline)
    before = _challenge_record(challenge)
    if "target_kpis" in given:
        kpi_ids = kpi_ids_for(session, data.target_kpis, "target_kpis")
        current = {k.kpi_id: k for k in challenge.target_kpis}
        challenge.target_kpis[:] = [
            current.get(k) or ChallengeKpi(challenge_id=challenge_id, kpi_id=k) for k in kpi_ids
        ]
    if "original_language" in given:
        _not_translated_into(session, challenge_id, data.original_language)
    for name in ("title", "statement", "original_language", "deadline"):
        if name in given:
            setattr(challenge, name, given[name])
    change = audit.diff(before, _challenge_record(challenge))
    if not change:
        return challenge
    challenge.version = claim_version(session, Challenge, challenge_id, expected)
    session.add(challenge)
    session.flush()
    _log(session, principal, "challenge.update", "challenge", challenge_id, change)
    return challenge


def _not_translated_into(session: Session, challenge_id: int, tag: str) -> None:
    """The original language cannot be one the challenge has a translation in: the two texts would compete."""
    rows = translations_of(session, TranslatableKind.challenge, [challenge_id]).get(challenge_id, [])
    if any(row.language.lower() == tag.lower() for row in rows):
        raise Conflict(
            f"This challenge has a translation into {tag}: delete it before making {tag} the original language.",
            type_="translation-exists",
            title="Translation exists",
            extra={"language": tag},
        )


def close_challenge(
    session: Session, principal: Principal, challenge_id: int, if_match: Precondition, note: str = ""
) -> Challenge:
    """No more proposals; the city may still award it."""
    challenge = get_challenge(session, challenge_id)
    _require_city_official(session, principal, challenge, "close this challenge")
    expected = _check_version("challenge", challenge_id, challenge.version, if_match)
    before = challenge.status
    challenge.status = challenge_next(before, ChallengeAction.close)
    challenge.version = claim_version(session, Challenge, challenge_id, expected)
    session.add(challenge)
    session.flush()
    _log(
        session,
        principal,
        "challenge.close",
        "challenge",
        challenge_id,
        {"status": {"from": before.value, "to": challenge.status.value}, "note": note},
    )
    return challenge


def _award(
    session: Session, principal: Principal, challenge: Challenge, winner: Proposal, challenge_version: int, note: str
) -> None:
    """The challenge awarded to `winner` (accepted); the other pending proposals declined; all audited."""
    challenge_id = challenge.id or 0
    before = challenge.status
    challenge.status = challenge_next(before, ChallengeAction.award)
    winner_before = winner.status
    winner.status = proposal_next(winner_before, ProposalAction.accept)
    challenge.version = claim_version(session, Challenge, challenge_id, challenge_version)
    winner.version = claim_version(session, Proposal, winner.id or 0, winner.version)
    others = session.exec(
        select(Proposal)
        .where(
            Proposal.challenge_id == challenge_id,
            col(Proposal.id) != winner.id,
            col(Proposal.status).in_(PENDING),
        )
        .order_by(col(Proposal.id))
    ).all()
    for other in others:
        other_before = other.status
        other.status = ProposalStatus.declined
        other.version = claim_version(session, Proposal, other.id or 0, other.version)
        session.add(other)
        _log(
            session,
            principal,
            "proposal.decline",
            "proposal",
            other.id or 0,
            {
                "status": {"from": other_before.value, "to": other.status.value},
                "note": f"challenge {challenge_id} was awarded to proposal {winner.id}",
            },
        )
    challenge.awarded_proposal_id = winner.id
    challenge.award_reason = note
    challenge.awarded_at = datetime.now(UTC)
    session.add(challenge)
    session.add(winner)
    session.flush()
    _log(
        session,
        principal,
        "challenge.award",
        "challenge",
        challenge_id,
        {
            "status": {"from": before.value, "to": challenge.status.value},
            "proposal_id": winner.id,
            "reason": note,
            "weighted_score": _weighted_scores(session, challenge).get(winner.id or 0),
            "declined_proposal_ids": [o.id for o in others],
            "note": note,
        },
    )
    _log(
        session,
        principal,
        "proposal.accept",
        "proposal",
        winner.id or 0,
        {"status": {"from": winner_before.value, "to": winner.status.value}, "note": note},
    )


def award_challenge(
    session: Session, principal: Principal, challenge_id: int, if_match: Precondition, data: ChallengeAwardIn
) -> Challenge:
    challenge = get_challenge(session, challenge_id)
    _require_city_official(session, principal, challenge, "award this challenge")
    expected = _check_version("challenge", challenge_id, challenge.version, if_match)
    challenge_next(challenge.status, ChallengeAction.award)  # 409 before looking at the proposal
    winner = session.exec(
        _visible_proposals(principal).where(Proposal.id == data.proposal_id, Proposal.challenge_id == challenge_id)
    ).first()
    if winner is None:
        raise InvalidInput(
            f"Challenge {challenge_id} has no proposal with id {data.proposal_id}.",
            errors=[{"field": "body.proposal_id", "message": "not a proposal of this challenge", "type": "unknown"}],
        )
    _award(session, principal, challenge, winner, expected, data.note)
    return challenge


# ---------------------------------------------------------------------------------------------- proposals


def _takes_proposals(challenge: Challenge) -> None:
    if challenge.status is not ChallengeStatus.open:
        raise Conflict(
            f"This challenge is {challenge.status.value}: it no longer takes or changes proposals.",
            type_="challenge-not-open",
            title="Challenge not open",
            extra={"current_status": challenge.status.value},
        )
    if challenge.deadline < today():
        raise Conflict(
            f"The deadline of this challenge ({challenge.deadline.isoformat()}) has passed: it no longer takes or "
            "changes proposals.",
            type_="deadline-passed",
            title="Deadline passed",
            extra={"deadline": challenge.deadline.isoformat()},
        )


def _proposal_record(proposal: Proposal) -> dict[str, Any]:
    return {
        "challenge_id": proposal.challenge_id,
        "vendor_id": proposal.vendor_id,
        "solution_id": proposal.solution_id,
        "text": proposal.text,
        "summary": proposal.summary,
        "status": proposal.status.value,
    }


def create_proposal(session: Session, principal: Principal, challenge_id: int, data: ProposalCreateIn) -> Proposal:
    challenge = get_challenge(session, challenge_id)
    listing = session.get(Solution, data.solution_id)
    if listing is None or not solutions.can_see(principal, listing):
        raise InvalidInput(
            f"No solution with id {data.solution_id}.",
            errors=[{"field": "body.solution_id", "message": "unknown solution", "type": "unknown"}],
        )
    permissions.require(
        permissions.can_propose_for_vendor(principal, listing.vendor_id),
        "Only the members of the solution's vendor (with challenges:write) may propose it.",
    )
    require_may_post(session, principal)
    if listing.status is not ListingStatus.published:
        raise InvalidInput(
            f"Solution {data.solution_id} is {listing.status.value}: only a published solution can be proposed.",
            errors=[{"field": "body.solution_id", "message": "not published", "type": "not_published"}],
        )
    _takes_proposals(challenge)
    duplicate = session.exec(
        select(Proposal).where(Proposal.challenge_id == challenge_id, Proposal.solution_id == data.solution_id)
    ).first()
    if duplicate is not None:
        raise Conflict(
            f"Solution {data.solution_id} was already proposed for this challenge (proposal {duplicate.id}); "
            "edit that proposal instead.",
            extra={"existing_id": duplicate.id},
        )
    proposal = Proposal(
        challenge_id=challenge_id,
        vendor_id=listing.vendor_id,
        solution_id=data.solution_id,
        text=data.text,
        summary=data.summary,
        status=ProposalStatus.submitted,
        submitted_by_user_id=principal.user_id,
    )
    session.add(proposal)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"Solution {data.solution_id} was just proposed for this challenge by someone else.") from None
    _log(session, principal, "proposal.create", "proposal", proposal.id or 0, _proposal_record(proposal))
    return proposal


def update_proposal(
    session: Session, principal: Principal, proposal_id: int, if_match: Precondition, data: ProposalUpdateIn
) -> Proposal:
    proposal = get_proposal(session, principal, proposal_id)
    permissions.require(
        permissions.can_propose_for_vendor(principal, proposal.vendor_id),
        "Only the members of the proposing vendor (with challenges:write) may edit this proposal.",
    )
    expected = _check_version("proposal", proposal_id, proposal.version, if_match)
    if proposal.status is not ProposalStatus.submitted:
        raise Conflict(
            f"This proposal is {proposal.status.value}: only a submitted proposal can be edited.",
            type_="illegal-transition",
            title="Illegal transition",
            extra={"current_status": proposal.status.value},
        )
    _takes_proposals(get_challenge(session, proposal.challenge_id))
    change = audit.diff({"text": proposal.text}, {"text": data.text})
    if not change:
        return proposal
    proposal.text = data.text
    proposal.version = claim_version(session, Proposal, proposal_id, expected)
    session.add(proposal)
    session.flush()
    _log(session, principal, "proposal.update", "proposal", proposal_id, change)
    return proposal


def decide_proposal(
    session: Session,
    principal: Principal,
    proposal_id: int,
    action: ProposalAction,
    if_match: Precondition,
    note: str = "",
) -> Proposal:
    """The city's answer to a proposal: shortlist, accept (which awards the challenge) or decline."""
    proposal = get_proposal(session, principal, proposal_id)
    challenge = get_challenge(session, proposal.challenge_id)
    _require_city_official(session, principal, challenge, f"{action.value} proposals to this challenge")
    expected = _check_version("proposal", proposal_id, proposal.version, if_match)
    if action is ProposalAction.accept:
        proposal_next(proposal.status, action)
        _award(session, principal, challenge, proposal, challenge.version, note)
        return proposal
    before = proposal.status
    proposal.status = proposal_next(before, action)
    proposal.version = claim_version(session, Proposal, proposal_id, expected)
    session.add(proposal)
    session.flush()
    _log(
        session,
        principal,
        f"proposal.{action.value}",
        "proposal",
        proposal_id,
        {"status": {"from": before.value, "to": proposal.status.value}, "note": note},
    )
    return proposal


# ----------------------------------------------------------------------------------------------- comments


def _author_label(session: Session, principal: Principal, city_id: int, vendor_id: int | None) -> str:
    """Whom the author speaks for: the challenge's city, else the vendor (the proposing one on a proposal,
    their first vendor on a challenge), else the platform (an admin)."""
    if principal.has_role(Role.city_official, OrganisationKind.city, city_id):
        return _city_name(session, city_id)
    own = sorted(principal.target_ids(OrganisationKind.vendor, Role.vendor_member))
    chosen = vendor_id if vendor_id is not None else (own[0] if own else None)
    if chosen is not None and chosen in own:
        vendor = session.get(Vendor, chosen)
        if vendor is not None:
            return vendor.name
    return PLATFORM_NAME if principal.is_admin else principal.subject


def _add_comment(
    session: Session,
    principal: Principal,
    label: str,
    body: CommentCreateIn,
    challenge_id: int | None = None,
    proposal_id: int | None = None,
) -> Comment:
    require_may_post(session, principal)
    comment = Comment(
        challenge_id=challenge_id,
        proposal_id=proposal_id,
        author_user_id=principal.user_id,
        author_label=label[:200],
        body=body.body,
    )
    session.add(comment)
    session.flush()
    _log(
        session,
        principal,
        "comment.create",
        "comment",
        comment.id or 0,
        {
            "challenge_id": challenge_id,
            "proposal_id": proposal_id,
            "author_label": comment.author_label,
            "body": comment.body,
        },
    )
    return comment


def comment_on_challenge(session: Session, principal: Principal, challenge_id: int, body: CommentCreateIn) -> Comment:
    challenge = get_challenge(session, challenge_id)
    is_open = challenge.status is ChallengeStatus.open
    permissions.require(
        permissions.can_comment_on_challenge(principal, challenge.city_id, is_open),
        f"Only the officials of {_city_name(session, challenge.city_id)} may comment on this challenge"
        + ("" if not is_open else ", and vendor members while it is open")
        + " (with challenges:write).",
    )
    label = _author_label(session, principal, challenge.city_id, None)
    return _add_comment(session, principal, label, body, challenge_id=challenge_id)


def comment_on_proposal(session: Session, principal: Principal, proposal_id: int, body: CommentCreateIn) -> Comment:
    proposal = get_proposal(session, principal, proposal_id)
    challenge = get_challenge(session, proposal.challenge_id)
    permissions.require(
        permissions.can_comment_on_proposal(principal, challenge.city_id, proposal.vendor_id),
        "Only the challenge's city officials and the proposing vendor's members (with challenges:write) may "
        "comment on this proposal.",
    )
    label = _author_label(session, principal, challenge.city_id, proposal.vendor_id)
    return _add_comment(session, principal, label, body, proposal_id=proposal_id)


def delete_comment(session: Session, principal: Principal, comment_id: int) -> None:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(f"No comment with id {comment_id}.")
    if comment.proposal_id is not None:
        try:
            get_proposal_in_full(session, principal, comment.proposal_id)  # as confidential as the proposal
        except NotFound:
            raise NotFound(f"No comment with id {comment_id}.") from None
    permissions.require(
        permissions.can_delete_comment(principal, comment.author_user_id),
        "Only the comment's author (with challenges:write) and admins may delete it.",
    )
    record = {
        "challenge_id": comment.challenge_id,
        "proposal_id": comment.proposal_id,
        "author_user_id": comment.author_user_id,
        "author_label": comment.author_label,
        "body": comment.body,
    }
    session.delete(comment)
    session.flush()
    _log(session, principal, "comment.delete", "comment", comment_id, record)


# ------------------------------------------------------------------------------------------ clarifications


def _visible_clarifications(principal: Principal) -> Any:
    """Public (the askers are never shown), but for those hidden pending review (app/moderation): their
    asker's and their moderators' only."""
    statement = select(Clarification)
    shown = hidden_filter(
        principal,
        ContentKind.clarification,
        col(Clarification.id),
        authored_by(principal, col(Clarification.asked_by_user_id)),
    )
    return statement if shown is None else statement.where(shown)


def list_clarifications(session: Session, principal: Principal, challenge_id: int) -> list[Clarification]:
    """A challenge's questions and answers, oldest first (`_visible_clarifications`)."""
    get_challenge(session, challenge_id)
    statement = _visible_clarifications(principal).where(Clarification.challenge_id == challenge_id)
    return list(session.exec(statement.order_by(col(Clarification.id))).all())


def clarifications_by_challenge(
    session: Session, principal: Principal, challenge_ids: Iterable[int]
) -> dict[int, list[Clarification]]:
    statement = _visible_clarifications(principal).where(col(Clarification.challenge_id).in_(set(challenge_ids)))
    found: dict[int, list[Clarification]] = defaultdict(list)
    for clarification in session.exec(statement.order_by(col(Clarification.id))).all():
        found[clarification.challenge_id].append(clarification)
    return found


def ask_clarification(
    session: Session, principal: Principal, challenge_id: int, data: ClarificationIn
) -> Clarification:
    challenge = get_challenge(session, challenge_id)
    is_open = challenge.status is ChallengeStatus.open
    permissions.require(
        permissions.can_ask_clarification(principal, is_open),
        "Only vendor members (with challenges:write) may ask clarification questions, while the challenge is open.",
    )
    require_may_post(session, principal)
    clarification = Clarification(challenge_id=challenge_id, question=data.question, asked_by_user_id=principal.user_id)
    session.add(clarification)
    session.flush()
    _log(
        session,
        principal,
        "clarification.ask",
        "clarification",
        clarification.id or 0,
        {"challenge_id": challenge_id, "question": data.question},
    )
    return clarification


def answer_clarification(
    session: Session, principal: Principal, clarification_id: int, data: ClarificationAnswerIn
) -> Clarification:
    clarification = session.get(Clarification, clarification_id)
    if clarification is None:
        raise NotFound(f"No clarification with id {clarification_id}.")
    challenge = get_challenge(session, clarification.challenge_id)
    _require_city_official(session, principal, challenge, "answer its clarification questions")
    if challenge.status is ChallengeStatus.awarded:
        raise Conflict(
            "This challenge is awarded: its clarifications are final.",
            type_="illegal-transition",
            title="Illegal transition",
            extra={"current_status": challenge.status.value},
        )
    change = audit.diff({"answer": clarification.answer}, {"answer": data.answer})
    clarification.answer = data.answer
    clarification.answered_by_user_id = principal.user_id
    clarification.answered_at = datetime.now(UTC)
    session.add(clarification)
    session.flush()
    _log(session, principal, "clarification.answer", "clarification", clarification_id, change)
    return clarification


# ------------------------------------------------------------------------------------------------ evaluation


def score_proposal(session: Session, principal: Principal, proposal_id: int, data: ScoresIn) -> list[ScoreOut]:
    """The caller's scores of a proposal (0-10 per criterion, with a note): the city's officials, before the
    award. Each replaces the caller's earlier score on that criterion; all are audited."""
    proposal = get_proposal(session, principal, proposal_id)
    challenge = get_challenge(session, proposal.challenge_id)
    permissions.require(
        permissions.can_evaluate_proposals(principal, challenge.city_id),
        f"Only the officials of {_city_name(session, challenge.city_id)} (with challenges:write) and admins may "
        "score proposals to this challenge.",
    )
    if challenge.status is ChallengeStatus.awarded:
        raise Conflict(
            "This challenge is awarded: its evaluation is closed.",
            type_="illegal-transition",
            title="Illegal transition",
            extra={"current_status": challenge.status.value},
        )
    criteria = {c.id: c for c in challenge.criteria}
    unknown = [i for i, s in enumerate(data.scores) if s.criterion_id not in criteria]
    if unknown or len({s.criterion_id for s in data.scores}) != len(data.scores):
        raise InvalidInput(
            "Each score names one of the challenge's criteria, once"
            + (f" (its criteria: {sorted(c or 0 for c in criteria)})." if criteria else "; this challenge has none."),
            errors=[
                {
                    "field": f"body.scores.{i}.criterion_id",
                    "message": "not a criterion of this challenge",
                    "type": "unknown",
                }
                for i in unknown
            ]
            or [{"field": "body.scores", "message": "a criterion given twice", "type": "duplicate"}],
        )
    scorer = principal.user_id
    if scorer is None:
        raise InvalidInput("Scores are an official's: sign in as a user, not as a client.", errors=[])
    existing = {
        s.criterion_id: s
        for s in session.exec(
            select(ProposalScore).where(
                ProposalScore.proposal_id == proposal_id, ProposalScore.scorer_user_id == scorer
            )
        ).all()
    }
    for given in data.scores:
        row = existing.get(given.criterion_id) or ProposalScore(
            proposal_id=proposal_id, criterion_id=given.criterion_id, scorer_user_id=scorer, score=given.score
        )
        row.score, row.note = given.score, given.note
        session.add(row)
    session.flush()
    outs = [
        ScoreOut(proposal_id=proposal_id, criterion_id=s.criterion_id, score=s.score, note=s.note) for s in data.scores
    ]
    _log(
        session,
        principal,
        "proposal.score",
        "proposal",
        proposal_id,
        {"challenge_id": challenge.id, "scores": [o.model_dump(exclude={"proposal_id"}) for o in outs]},
    )
    return outs


def _mean_scores(session: Session, challenge: Challenge) -> dict[int, dict[int, tuple[float, int]]]:
    """Per proposal, per criterion: the mean score and how many scored it (one statement)."""
    statement = (
        select(ProposalScore.proposal_id, ProposalScore.criterion_id, func.avg(ProposalScore.score), func.count())
        .join(Proposal, col(Proposal.id) == ProposalScore.proposal_id)
        .where(Proposal.challenge_id == challenge.id)
        .group_by(col(ProposalScore.proposal_id), col(ProposalScore.criterion_id))
    )
    found: dict[int, dict[int, tuple[float, int]]] = defaultdict(dict)
    for proposal_id, criterion_id, mean, count in session.exec(statement).all():
        found[proposal_id][criterion_id] = (float(mean), int(count))
    return found


def _weighted(criteria: Sequence[ChallengeCriterion], means: dict[int, tuple[float, int]]) -> float:
    """0-100: each criterion's mean (0-10) times its weight (percent), over 10; an unscored one counts 0."""
    return round(sum(c.weight * means.get(c.id or 0, (0.0, 0))[0] for c in criteria) / 10, 2)


def _weighted_scores(session: Session, challenge: Challenge) -> dict[int, float]:
    return {p: _weighted(challenge.criteria, m) for p, m in _mean_scores(session, challenge).items()}


def ranking(session: Session, principal: Principal, challenge_id: int) -> RankingOut:
    """The challenge's proposals by weighted score, best first (ties: oldest first): officials and admins."""
    challenge = get_challenge(session, challenge_id)
    permissions.require_visible(
        permissions.can_see_ranking(principal, challenge.city_id),
        f"No ranking for challenge {challenge_id}: it is its city officials' only.",
    )
    ranked = select(Proposal).where(Proposal.challenge_id == challenge_id)
    shown = _proposal_not_hidden(principal)
    if shown is not None:
        ranked = ranked.where(shown)
    proposals = session.exec(ranked.order_by(col(Proposal.id))).all()
    means = _mean_scores(session, challenge)
    rows = []
    for p in proposals:
        mine = means.get(p.id or 0, {})
        criteria = [
            CriterionScoreOut(
                criterion_id=c.id or 0,
                name=c.name,
                weight=c.weight,
                mean_score=round(mine[c.id or 0][0], 2) if (c.id or 0) in mine else None,
                scores=mine.get(c.id or 0, (0.0, 0))[1],
            )
            for c in challenge.criteria
        ]
        rows.append((p, _weighted(challenge.criteria, mine), criteria))
    rows.sort(key=lambda r: (-r[1], r[0].id or 0))
    return RankingOut(
        challenge_id=challenge_id,
        award_reason=challenge.award_reason,
        items=[
            RankedProposalOut(
                rank=i + 1, proposal_id=p.id or 0, vendor_id=p.vendor_id, status=p.status, weighted_score=w, criteria=c
            )
            for i, (p, w, c) in enumerate(rows)
        ],
    )


def translation_target(session: Session, principal: Principal, challenge_id: int) -> Target:
    """The challenge as something `principal` may translate: its city's officials and admins (who may edit it),
    in any status (a translation changes none of the challenge's terms)."""
    challenge = get_challenge(session, challenge_id)
    _require_city_official(session, principal, challenge, "translate this challenge")
    return Target(
        TranslatableKind.challenge,
        challenge_id,
        challenge.original_language,
        "challenge",
        f"PATCH /api/v1/challenges/{challenge_id}",
    )
