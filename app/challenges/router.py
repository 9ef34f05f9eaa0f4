"""REST face of co-creation: challenges, their proposals, and comments."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth.deps import PrincipalDep
from app.challenges import service
from app.challenges.models import ChallengeStatus, ProposalStatus
from app.challenges.schemas import ChallengeOut, CommentOut, ProposalOut
from app.core.concurrency import etag, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["co-creation"])


@router.get("/challenges", response_model=Page[ChallengeOut], summary="List challenges, newest first")
def list_challenges(
    session: SessionDep,
    page: PageDep,
    city: Annotated[int | None, Query(ge=1, description="City id")] = None,
    status: Annotated[ChallengeStatus | None, Query()] = None,
    kpi: Annotated[str | None, Query(max_length=64, description="Target KPI (slug or official code)")] = None,
    deadline_before: Annotated[date | None, Query(description="Deadline on or before this date")] = None,
    deadline_after: Annotated[date | None, Query(description="Deadline on or after this date")] = None,
) -> Page[ChallengeOut]:
    filters = service.ChallengeFilters(
        city=city, status=status, kpi=kpi, deadline_before=deadline_before, deadline_after=deadline_after
    )
    result = service.list_challenges(session, filters, page)
    return Page(items=service.to_out(session, result.items), total=result.total, next_cursor=result.next_cursor)


@router.get(
    "/challenges/{challenge_id}",
    response_model=ChallengeOut,
    summary="One challenge with its target KPIs",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_challenge(
    session: SessionDep, request: Request, response: Response, challenge_id: Annotated[int, Path(ge=1)]
) -> ChallengeOut | Response:
    challenge = service.get_challenge(session, challenge_id)
    tag = etag("challenge", challenge_id, challenge.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return service.to_out(session, [challenge])[0]


@router.get(
    "/challenges/{challenge_id}/proposals",
    response_model=Page[ProposalOut],
    summary="The proposals answering a challenge, oldest first",
)
def list_proposals(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    challenge_id: Annotated[int, Path(ge=1)],
    vendor: Annotated[int | None, Query(ge=1, description="Vendor id")] = None,
    status: Annotated[ProposalStatus | None, Query()] = None,
) -> Page[ProposalOut]:
    filters = service.ProposalFilters(vendor=vendor, status=status)
    result = service.list_proposals(session, principal, challenge_id, filters, page)
    return Page(
        items=service.proposals_to_out(session, result.items), total=result.total, next_cursor=result.next_cursor
    )


@router.get(
    "/proposals/{proposal_id}",
    response_model=ProposalOut,
    summary="One proposal",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_proposal(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    proposal_id: Annotated[int, Path(ge=1)],
) -> ProposalOut | Response:
    proposal = service.get_proposal(session, principal, proposal_id)
    tag = etag("proposal", proposal_id, proposal.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return service.proposals_to_out(session, [proposal])[0]


@router.get(
    "/comments",
    response_model=Page[CommentOut],
    summary="The comments on a challenge or on a proposal, oldest first",
)
def list_comments(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    challenge: Annotated[int | None, Query(ge=1, description="Challenge id (or give `proposal`)")] = None,
    proposal: Annotated[int | None, Query(ge=1, description="Proposal id (or give `challenge`)")] = None,
) -> Page[CommentOut]:
    filters = service.CommentFilters(challenge=challenge, proposal=proposal)
    result = service.list_comments(session, principal, filters, page)
    return Page(
        items=[CommentOut.from_model(c) for c in result.items], total=result.total, next_cursor=result.next_cursor
    )
