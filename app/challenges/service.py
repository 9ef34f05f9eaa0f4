"""Reading co-creation: challenges (public calls of cities), vendors' proposals, and comments on both.

A proposal is shown only to callers who may see the listing it proposes, and so are its comments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.challenges.models import Challenge, ChallengeKpi, ChallengeStatus, Comment, Proposal, ProposalStatus
from app.challenges.schemas import ChallengeBaseOut, ChallengeOut, ProposalBaseOut, ProposalOut
from app.core.errors import InvalidInput, NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.solutions import service as solutions
from app.solutions.models import Solution
from app.solutions.schemas import SolutionRefOut
from app.vendors.schemas import VendorRefOut
from app.vendors.service import vendors_by_id


@dataclass(frozen=True)
class ChallengeFilters:
    city: int | None = None
    status: ChallengeStatus | None = None
    kpi: str | None = None
    deadline_before: date | None = None
    deadline_after: date | None = None


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
    statement = select(Challenge).options(selectinload(Challenge.target_kpis))  # type: ignore[arg-type]
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


def get_challenge(session: Session, challenge_id: int) -> Challenge:
    statement = select(Challenge).where(Challenge.id == challenge_id).options(selectinload(Challenge.target_kpis))  # type: ignore[arg-type]
    challenge = session.exec(statement).first()
    if challenge is None:
        raise NotFound(f"No challenge with id {challenge_id}. GET /api/v1/challenges lists them.")
    return challenge


def to_out(session: Session, challenges: Sequence[Challenge]) -> list[ChallengeOut]:
    """Challenges with their city and target KPIs (one statement each for all of them)."""
    cities = solutions.city_refs(session, {c.city_id for c in challenges})
    kpis = solutions.kpi_refs(session, {k.kpi_id for c in challenges for k in c.target_kpis})
    return [
        ChallengeOut(
            **ChallengeBaseOut.from_model(c).model_dump(),
            city=cities[c.city_id],
            target_kpis=sorted((kpis[k.kpi_id] for k in c.target_kpis), key=lambda r: r.code),
        )
        for c in challenges
    ]


# ---------------------------------------------------------------------------------------------- proposals


def _visible_proposals(principal: Principal) -> Any:
    """Proposals whose listing the caller may see."""
    statement = select(Proposal).join(Solution, col(Solution.id) == Proposal.solution_id)
    visible = solutions.listing_visibility(principal)
    return statement.where(visible) if visible is not None else statement


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


def get_proposal(session: Session, principal: Principal, proposal_id: int) -> Proposal:
    proposal: Proposal | None = session.exec(_visible_proposals(principal).where(Proposal.id == proposal_id)).first()
    if proposal is None:
        raise NotFound(f"No proposal with id {proposal_id}. GET /api/v1/challenges/{{id}}/proposals lists them.")
    return proposal


def proposals_by_challenge(
    session: Session, principal: Principal, challenge_ids: Iterable[int], status: ProposalStatus | None = None
) -> dict[int, list[Proposal]]:
    """The proposals of each challenge that `principal` may see, oldest first."""
    statement = _visible_proposals(principal).where(col(Proposal.challenge_id).in_(set(challenge_ids)))
    if status:
        statement = statement.where(col(Proposal.status) == status)
    found: dict[int, list[Proposal]] = defaultdict(list)
    for proposal in session.exec(statement.order_by(col(Proposal.id))).all():
        found[proposal.challenge_id].append(proposal)
    return found


def proposals_to_out(session: Session, proposals: Sequence[Proposal]) -> list[ProposalOut]:
    """Proposals with their vendor and listing (one statement each for all of them)."""
    vendors = vendors_by_id(session, {p.vendor_id for p in proposals})
    listings = session.exec(select(Solution).where(col(Solution.id).in_({p.solution_id for p in proposals}))).all()
    refs = {s.id: SolutionRefOut.from_model(s) for s in listings}
    return [
        ProposalOut(
            **ProposalBaseOut.from_model(p).model_dump(),
            vendor=VendorRefOut.from_model(vendors[p.vendor_id]),
            solution=refs[p.solution_id],
        )
        for p in proposals
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
        get_proposal(session, principal, filters.proposal)  # a hidden proposal's comments are hidden too
        statement = statement.where(col(Comment.proposal_id) == filters.proposal)
    # Oldest first, by id: ids grow with insertion, and a datetime would not survive the cursor.
    return paginate(session, statement, [SortKey(Comment.id)], page)  # type: ignore[arg-type]
