"""REST face of co-creation: challenges, their proposals, and comments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.challenges import service
from app.challenges.lifecycle import CHALLENGE_FACES, PROPOSAL_FACES, ChallengeAction, ProposalAction
from app.challenges.models import ProposalStatus
from app.challenges.schemas import (
    ChallengeAwardIn,
    ChallengeCreateIn,
    ChallengeFilters,
    ChallengeOut,
    ChallengeUpdateIn,
    ClarificationAnswerIn,
    ClarificationIn,
    ClarificationOut,
    CommentCreateIn,
    CommentOut,
    NoteIn,
    ProposalCreateIn,
    ProposalOut,
    ProposalUpdateIn,
    RankingOut,
    ScoreOut,
    ScoresIn,
)
from app.core.concurrency import etag, expected_version, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.localized import WantedDep, localized_detail, localized_page
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router
from app.translations.models import TranslatableKind
from app.translations.service import localize

router = api_router(prefix="/api/v1", tags=["co-creation"])

Writer = Annotated[Principal, Depends(require_scopes(Scope.challenges_write))]
ChallengeId = Id
ProposalId = Id
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) access token"},
    403: {"description": "Not allowed on this object, or the token lacks challenges:write"},
    404: {"description": "No such object (or one you may not see)"},
    409: {"description": "The object's status does not allow this (the answer says which actions it allows)"},
    422: {"description": "Invalid input"},
}
UPDATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **WRITE_RESPONSES,
    412: {"description": "Stale If-Match"},
    428: {"description": "If-Match missing"},
}


@router.get("/challenges", response_model=Page[ChallengeOut], summary="List challenges, newest first")
def list_challenges(
    session: SessionDep,
    page: PageDep,
    filters: Annotated[ChallengeFilters, Query()],
    wanted: WantedDep = [],  # noqa: B006  (a dependency's value; FastAPI ignores the default)
) -> Response:
    result = service.list_challenges(session, filters, page)
    items = localize(session, TranslatableKind.challenge, service.to_out(session, result.items), wanted)
    return localized_page(Page(items=items, total=result.total, next_cursor=result.next_cursor))


@router.get(
    "/challenges/{challenge_id}",
    response_model=ChallengeOut,
    summary="One challenge with its target KPIs",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_challenge(session: SessionDep, request: Request, challenge_id: Id, wanted: WantedDep) -> Response:
    challenge = service.get_challenge(session, challenge_id)
    out = localize(session, TranslatableKind.challenge, service.to_out(session, [challenge]), wanted)[0]
    return localized_detail(request, out, etag("challenge", challenge_id, challenge.version))


@router.get(
    "/challenges/{challenge_id}/proposals",
    response_model=Page[ProposalOut],
    summary="The proposals answering a challenge, oldest first",
)
def list_proposals(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    challenge_id: Id,
    vendor: Annotated[Id | None, Query(description="Vendor id")] = None,
    status: Annotated[ProposalStatus | None, Query()] = None,
) -> Page[ProposalOut]:
    filters = service.ProposalFilters(vendor=vendor, status=status)
    result = service.list_proposals(session, principal, challenge_id, filters, page)
    return Page(
        items=service.proposals_to_out(session, principal, result.items),
        total=result.total,
        next_cursor=result.next_cursor,
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
    proposal_id: Id,
) -> ProposalOut | Response:
    proposal = service.get_proposal(session, principal, proposal_id)
    tag = etag("proposal", proposal_id, proposal.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return service.proposals_to_out(session, principal, [proposal])[0]


@router.get(
    "/comments",
    response_model=Page[CommentOut],
    summary="The comments on a challenge or on a proposal, oldest first",
    # OpenAPI cannot say "exactly one of these two parameters": the description and the 422 do.
    description="Give exactly one of `challenge` and `proposal`; neither or both is answered 422.",
    responses={404: {"description": "No such challenge or proposal"}},
)
def list_comments(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    challenge: Annotated[Id | None, Query(description="Challenge id (or give `proposal`)")] = None,
    proposal: Annotated[Id | None, Query(description="Proposal id (or give `challenge`)")] = None,
) -> Page[CommentOut]:
    filters = service.CommentFilters(challenge=challenge, proposal=proposal)
    result = service.list_comments(session, principal, filters, page)
    return Page(
        items=[CommentOut.from_model(c) for c in result.items], total=result.total, next_cursor=result.next_cursor
    )


# ------------------------------------------------------------------------------------------------ writes


def _challenge_answer(session: SessionDep, response: Response, challenge_id: int) -> ChallengeOut:
    out = service.to_out(session, [service.get_challenge(session, challenge_id)])[0]
    response.headers["ETag"] = etag("challenge", challenge_id, out.version)
    return out


def _proposal_answer(session: SessionDep, principal: Principal, response: Response, proposal: Any) -> ProposalOut:
    out = service.proposals_to_out(session, principal, [proposal])[0]
    response.headers["ETag"] = etag("proposal", out.id, out.version)
    return out


@router.post(
    "/challenges",
    status_code=201,
    response_model=ChallengeOut,
    summary="Post a challenge (the city's officials)",
    responses=WRITE_RESPONSES,
)
def create_challenge(session: SessionDep, principal: Writer, request: Request, body: ChallengeCreateIn) -> JSONResponse:
    def create() -> tuple[ChallengeOut, str]:
        challenge = service.create_challenge(session, principal, body)
        return service.to_out(session, [challenge])[0], path_of(router, "get_challenge", challenge_id=challenge.id)

    return create_once(session, principal, request, body, create)


@router.patch(
    "/challenges/{challenge_id}",
    response_model=ChallengeOut,
    summary="Edit an open challenge (the city's officials; If-Match)",
    responses=UPDATE_RESPONSES,
)
def update_challenge(
    session: SessionDep,
    principal: Writer,
    request: Request,
    response: Response,
    challenge_id: ChallengeId,
    body: ChallengeUpdateIn,
) -> ChallengeOut:
    service.update_challenge(
        session, principal, challenge_id, lambda: expected_version(request, "challenge", challenge_id), body
    )
    session.commit()
    return _challenge_answer(session, response, challenge_id)


@router.post(
    "/challenges/{challenge_id}/close",
    response_model=ChallengeOut,
    responses=UPDATE_RESPONSES,
    **CHALLENGE_FACES[ChallengeAction.close].route_options(),
)
def close_challenge(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    challenge_id: ChallengeId,
    body: NoteIn | None = None,
) -> ChallengeOut:
    service.close_challenge(
        session,
        principal,
        challenge_id,
        lambda: expected_version(request, "challenge", challenge_id),
        note=body.note if body else "",
    )
    session.commit()
    return _challenge_answer(session, response, challenge_id)


@router.post(
    "/challenges/{challenge_id}/award",
    response_model=ChallengeOut,
    responses=UPDATE_RESPONSES,
    **CHALLENGE_FACES[ChallengeAction.award].route_options(),
)
def award_challenge(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    challenge_id: ChallengeId,
    body: ChallengeAwardIn,
) -> ChallengeOut:
    service.award_challenge(
        session, principal, challenge_id, lambda: expected_version(request, "challenge", challenge_id), body
    )
    session.commit()
    return _challenge_answer(session, response, challenge_id)


@router.post(
    "/challenges/{challenge_id}/proposals",
    status_code=201,
    response_model=ProposalOut,
    summary="Propose one of your vendor's published solutions (while the challenge is open)",
    responses=WRITE_RESPONSES,
)
def create_proposal(
    session: SessionDep, principal: Writer, request: Request, challenge_id: ChallengeId, body: ProposalCreateIn
) -> JSONResponse:
    def create() -> tuple[ProposalOut, str]:
        proposal = service.create_proposal(session, principal, challenge_id, body)
        return service.proposals_to_out(session, principal, [proposal])[0], path_of(
            router, "get_proposal", proposal_id=proposal.id
        )

    return create_once(session, principal, request, body, create)


@router.patch(
    "/proposals/{proposal_id}",
    response_model=ProposalOut,
    summary="Edit a submitted proposal's text (the vendor; If-Match)",
    responses=UPDATE_RESPONSES,
)
def update_proposal(
    session: SessionDep,
    principal: Writer,
    request: Request,
    response: Response,
    proposal_id: ProposalId,
    body: ProposalUpdateIn,
) -> ProposalOut:
    proposal = service.update_proposal(
        session, principal, proposal_id, lambda: expected_version(request, "proposal", proposal_id), body
    )
    session.commit()
    return _proposal_answer(session, principal, response, proposal)


def _proposal_action_route(action: ProposalAction) -> Callable[..., ProposalOut]:
    def act(
        session: SessionDep,
        principal: PrincipalDep,
        request: Request,
        response: Response,
        proposal_id: ProposalId,
        body: NoteIn | None = None,
    ) -> ProposalOut:
        proposal = service.decide_proposal(
            session,
            principal,
            proposal_id,
            action,
            lambda: expected_version(request, "proposal", proposal_id),
            note=body.note if body else "",
        )
        session.commit()
        return _proposal_answer(session, principal, response, proposal)

    act.__name__ = PROPOSAL_FACES[action].name
    return act


# One route per proposal decision of the lifecycle table, named, summarised and scoped as it says (the
# GraphQL mutations are made from the same table).
for _action, _face in PROPOSAL_FACES.items():
    router.add_api_route(
        f"/proposals/{{proposal_id}}/{_action.value}",
        _proposal_action_route(_action),
        methods=["POST"],
        response_model=ProposalOut,
        responses=UPDATE_RESPONSES,
        **_face.route_options(),
    )


@router.post(
    "/challenges/{challenge_id}/comments",
    status_code=201,
    response_model=CommentOut,
    summary="Comment on a challenge (its city's officials; vendor members while it is open)",
    responses=WRITE_RESPONSES,
)
def comment_on_challenge(
    session: SessionDep, principal: Writer, request: Request, challenge_id: ChallengeId, body: CommentCreateIn
) -> JSONResponse:
    def create() -> tuple[CommentOut, str]:
        comment = service.comment_on_challenge(session, principal, challenge_id, body)
        return CommentOut.from_model(comment), f"{path_of(router, 'list_comments')}?challenge={challenge_id}"

    return create_once(session, principal, request, body, create)


@router.post(
    "/proposals/{proposal_id}/comments",
    status_code=201,
    response_model=CommentOut,
    summary="Comment on a proposal (the challenge's city officials, the proposing vendor's members)",
    responses=WRITE_RESPONSES,
)
def comment_on_proposal(
    session: SessionDep, principal: Writer, request: Request, proposal_id: ProposalId, body: CommentCreateIn
) -> JSONResponse:
    def create() -> tuple[CommentOut, str]:
        comment = service.comment_on_proposal(session, principal, proposal_id, body)
        return CommentOut.from_model(comment), f"{path_of(router, 'list_comments')}?proposal={proposal_id}"

    return create_once(session, principal, request, body, create)


@router.delete(
    "/comments/{comment_id}",
    status_code=204,
    summary="Delete a comment (its author, or an admin)",
    responses=WRITE_RESPONSES,
)
def delete_comment(session: SessionDep, principal: Writer, comment_id: Id) -> Response:
    service.delete_comment(session, principal, comment_id)
    session.commit()
    return Response(status_code=204)


# ------------------------------------------------------------------------------ clarifications, evaluation


@router.get(
    "/challenges/{challenge_id}/clarifications",
    response_model=list[ClarificationOut],
    summary="A challenge's clarification questions and the city's answers, oldest first (public; askers hidden)",
)
def list_clarifications(session: SessionDep, principal: PrincipalDep, challenge_id: Id) -> list[ClarificationOut]:
    return [ClarificationOut.from_model(c) for c in service.list_clarifications(session, principal, challenge_id)]


@router.post(
    "/challenges/{challenge_id}/clarifications",
    status_code=201,
    response_model=ClarificationOut,
    summary="Ask a clarification question (vendor members, while the challenge is open; you are not named)",
    responses=WRITE_RESPONSES,
)
def ask_clarification(
    session: SessionDep, principal: Writer, request: Request, challenge_id: ChallengeId, body: ClarificationIn
) -> JSONResponse:
    def create() -> tuple[ClarificationOut, str]:
        clarification = service.ask_clarification(session, principal, challenge_id, body)
        return ClarificationOut.from_model(clarification), path_of(
            router, "list_clarifications", challenge_id=challenge_id
        )

    return create_once(session, principal, request, body, create)


@router.put(
    "/clarifications/{clarification_id}/answer",
    response_model=ClarificationOut,
    summary="Answer a clarification question, for every vendor to read (the challenge's city officials)",
    responses=WRITE_RESPONSES,
)
def answer_clarification(
    session: SessionDep, principal: Writer, clarification_id: Id, body: ClarificationAnswerIn
) -> ClarificationOut:
    clarification = service.answer_clarification(session, principal, clarification_id, body)
    session.commit()
    return ClarificationOut.from_model(clarification)


@router.put(
    "/proposals/{proposal_id}/scores",
    response_model=list[ScoreOut],
    summary="Score a proposal per criterion, 0-10 with a note (the challenge's city officials, before the award)",
    responses=WRITE_RESPONSES,
)
def score_proposal(session: SessionDep, principal: Writer, proposal_id: ProposalId, body: ScoresIn) -> list[ScoreOut]:
    scores = service.score_proposal(session, principal, proposal_id, body)
    session.commit()
    return scores


@router.get(
    "/challenges/{challenge_id}/ranking",
    response_model=RankingOut,
    summary="The proposals by weighted score (the challenge's city officials and admins only)",
    responses={404: {"description": "No such challenge, or not yours to evaluate"}},
)
def ranking(session: SessionDep, principal: PrincipalDep, challenge_id: Id) -> RankingOut:
    return service.ranking(session, principal, challenge_id)
