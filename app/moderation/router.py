"""REST face of moderation: reports, the moderators' queue, hiding and restoring items, blocking accounts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from app.auth.deps import AuthenticatedDep
from app.auth.ratelimit import action_limiter
from app.core.deps import PageDep, SessionDep, SettingsDep
from app.core.ids import Id
from app.core.pagination import Page
from app.core.routing import api_router
from app.moderation import service
from app.moderation.models import ContentKind
from app.moderation.schemas import AccountBlockOut, BlockIn, ModeratedItemOut, ModerationNoteIn, ReportIn, ReportOut

router = api_router(prefix="/api/v1/moderation", tags=["moderation"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) access token"},
    403: {"description": "Not a moderator, or the account is blocked from posting (type account-blocked)"},
    404: {"description": "No such item (or one you may not see)"},
    422: {"description": "Invalid input"},
}


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportOut,
    summary="Report a comment, proposal, clarification, listing or case study (once per account)",
    responses={**RESPONSES, 409: {"description": "You already reported it"}, 429: {"description": "Too many"}},
)
def report(
    session: SessionDep, principal: AuthenticatedDep, settings: SettingsDep, request: Request, body: ReportIn
) -> ReportOut:
    out = service.report(session, principal, settings, action_limiter(settings), body)
    session.commit()
    return out


@router.get(
    "/reports",
    response_model=Page[ReportOut],
    summary="The moderation queue: reports, newest first (moderators)",
    responses=RESPONSES,
)
def list_reports(
    session: SessionDep,
    principal: AuthenticatedDep,
    page: PageDep,
    kind: Annotated[ContentKind | None, Query(description="Only reports of this kind of content")] = None,
) -> Page[ReportOut]:
    result = service.list_reports(session, principal, page, kind)
    return Page(items=result.items, total=result.total, next_cursor=result.next_cursor)


def _decide(hide: bool) -> Any:
    def route(
        session: SessionDep, principal: AuthenticatedDep, kind: ContentKind, object_id: Id, body: ModerationNoteIn
    ) -> ModeratedItemOut:
        out = service.decide(session, principal, kind, object_id, hide, body)
        session.commit()
        return out

    return route


router.add_api_route(
    "/items/{kind}/{object_id}/hide",
    _decide(True),
    methods=["POST"],
    response_model=ModeratedItemOut,
    summary="Hide an item (moderators)",
    responses=RESPONSES,
)
router.add_api_route(
    "/items/{kind}/{object_id}/restore",
    _decide(False),
    methods=["POST"],
    response_model=ModeratedItemOut,
    summary="Restore a hidden item (moderators); later reports do not hide it again",
    responses=RESPONSES,
)


@router.put(
    "/blocks/{user_id}",
    response_model=AccountBlockOut,
    summary="Block an account from posting (moderators)",
    responses=RESPONSES,
)
def block(session: SessionDep, principal: AuthenticatedDep, user_id: Id, body: BlockIn) -> AccountBlockOut:
    out = service.block(session, principal, user_id, body)
    session.commit()
    return out


@router.delete("/blocks/{user_id}", status_code=204, summary="Unblock an account (moderators)", responses=RESPONSES)
def unblock(session: SessionDep, principal: AuthenticatedDep, user_id: Id) -> Response:
    service.unblock(session, principal, user_id)
    session.commit()
    return Response(status_code=204)
