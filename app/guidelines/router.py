"""REST face of procurement guidelines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.auth.deps import PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.case_studies.lifecycle import EditorialAction
from app.core.concurrency import etag, if_match, set_etag, with_etag
from app.core.deps import PageDep, SessionDep
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.localized import WantedDep, localized_detail, localized_page
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router
from app.guidelines import service
from app.guidelines.schemas import GuidelineCreateIn, GuidelineFilters, GuidelineOut, GuidelineUpdateIn
from app.translations.models import TranslatableKind
from app.translations.service import localize

router = api_router(prefix="/api/v1/procurement-guidelines", tags=["procurement guidelines"])


@router.get("", response_model=Page[GuidelineOut], summary="List the published procurement guidelines")
def list_guidelines(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    filters: Annotated[GuidelineFilters, Query()],
    wanted: WantedDep = [],  # noqa: B006  (a dependency's value; FastAPI ignores the default)
) -> Response:
    result = service.list_guidelines(session, principal, filters, page)
    items = localize(session, TranslatableKind.guideline, service.to_out(session, result.items), wanted)
    return localized_page(Page(items=items, total=result.total, next_cursor=result.next_cursor))


@router.get(
    "/{guideline_id}",
    response_model=GuidelineOut,
    summary="One procurement guideline",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_guideline(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    guideline_id: Id,
    wanted: WantedDep,
) -> Response:
    guideline = service.get_guideline(session, principal, guideline_id)
    out = localize(session, TranslatableKind.guideline, service.to_out(session, [guideline]), wanted)[0]
    return localized_detail(request, out, etag("procurement_guideline", guideline_id, guideline.version))


# ------------------------------------------------------------------------------------------------- writes

Editor = Annotated[Principal, Depends(require_scopes(Scope.admin))]
GuidelineId = Id
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) token"},
    403: {"description": "Not an editor (admin)"},
    404: {"description": "No such guideline"},
    409: {"description": "Not allowed in its current status (names it and the possible moves)"},
    412: {"description": "If-Match is stale"},
    422: {"description": "Invalid input (names each bad field); unknown fields are refused"},
    428: {"description": "If-Match missing"},
}


@router.post(
    "",
    status_code=201,
    response_model=GuidelineOut,
    summary="Write a procurement guideline, as a draft (editors; Idempotency-Key supported)",
    responses={**WRITE_RESPONSES, 201: {"description": "Created; Location names it"}},
)
def create_guideline(session: SessionDep, principal: Editor, request: Request, body: GuidelineCreateIn) -> JSONResponse:
    def create() -> tuple[GuidelineOut, str]:
        out = service.create_guideline(session, principal, body)
        return out, path_of(router, "get_guideline", guideline_id=out.id)

    return with_etag(create_once(session, principal, request, body, create), service.KIND)


@router.patch(
    "/{guideline_id}",
    response_model=GuidelineOut,
    summary="Edit a procurement guideline (editors; If-Match): only the fields given change",
    responses=WRITE_RESPONSES,
)
def update_guideline(
    session: SessionDep,
    principal: Editor,
    request: Request,
    response: Response,
    guideline_id: GuidelineId,
    body: GuidelineUpdateIn,
) -> GuidelineOut:
    expected = if_match(request, service.KIND, guideline_id)
    out = service.update_guideline(session, principal, guideline_id, body, expected)
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out


def _transition(
    session: Session,
    principal: Principal,
    request: Request,
    response: Response,
    guideline_id: int,
    action: EditorialAction,
) -> GuidelineOut:
    expected = if_match(request, service.KIND, guideline_id)
    out = service.transition_guideline(session, principal, guideline_id, action, expected)
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out


@router.post(
    "/{guideline_id}/publish",
    response_model=GuidelineOut,
    summary="Publish a draft or archived guideline (editors; If-Match)",
    responses=WRITE_RESPONSES,
)
def publish_guideline(
    session: SessionDep, principal: Editor, request: Request, response: Response, guideline_id: GuidelineId
) -> GuidelineOut:
    return _transition(session, principal, request, response, guideline_id, EditorialAction.publish)


@router.post(
    "/{guideline_id}/archive",
    response_model=GuidelineOut,
    summary="Archive a draft or published guideline (editors; If-Match)",
    responses=WRITE_RESPONSES,
)
def archive_guideline(
    session: SessionDep, principal: Editor, request: Request, response: Response, guideline_id: GuidelineId
) -> GuidelineOut:
    return _transition(session, principal, request, response, guideline_id, EditorialAction.archive)
