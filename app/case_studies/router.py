"""REST face of case studies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.auth.deps import PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.case_studies import service
from app.case_studies.lifecycle import EditorialAction
from app.case_studies.schemas import (
    CaseStudyCreateIn,
    CaseStudyDetailOut,
    CaseStudyFilters,
    CaseStudyOut,
    CaseStudyUpdateIn,
)
from app.core.concurrency import etag, if_match, set_etag, with_etag
from app.core.deps import PageDep, SessionDep
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.localized import WantedDep, localized_detail, localized_page
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router
from app.translations.models import TranslatableKind
from app.translations.service import localize

router = api_router(prefix="/api/v1/case-studies", tags=["case studies"])


@router.get("", response_model=Page[CaseStudyOut], summary="List the published case studies")
def list_case_studies(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    filters: Annotated[CaseStudyFilters, Query()],
    sort: Annotated[
        service.CaseStudySort, Query(description="alphabetical (by title), or newest first")
    ] = service.CaseStudySort.alphabetical,
    wanted: WantedDep = [],  # noqa: B006  (a dependency's value; FastAPI ignores the default)
) -> Response:
    result = service.list_case_studies(session, principal, filters, page, sort)
    items = localize(session, TranslatableKind.case_study, [CaseStudyOut.from_model(c) for c in result.items], wanted)
    return localized_page(Page(items=items, total=result.total, next_cursor=result.next_cursor))


@router.get(
    "/{case_study_id}",
    response_model=CaseStudyDetailOut,
    summary="One case study with its KPI outcomes and the solutions it used",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_case_study(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    case_study_id: Id,
    wanted: WantedDep,
) -> Response:
    out = service.get_case_study_detail(session, principal, case_study_id)
    out = localize(session, TranslatableKind.case_study, [out], wanted)[0]
    return localized_detail(request, out, etag("case_study", out.id, out.version))


# ------------------------------------------------------------------------------------------------- writes

Editor = Annotated[Principal, Depends(require_scopes(Scope.admin))]
CaseStudyId = Id
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) token"},
    403: {"description": "Not an editor (admin)"},
    404: {"description": "No such case study"},
    409: {"description": "Not allowed in its current status, or verified claims rest on what would change"},
    412: {"description": "If-Match is stale"},
    422: {"description": "Invalid input (names each bad field); unknown fields are refused"},
    428: {"description": "If-Match missing"},
}


@router.post(
    "",
    status_code=201,
    response_model=CaseStudyDetailOut,
    summary="Write a case study, as a draft (editors; Idempotency-Key supported)",
    responses={**WRITE_RESPONSES, 201: {"description": "Created; Location names it"}},
)
def create_case_study(
    session: SessionDep, principal: Editor, request: Request, body: CaseStudyCreateIn
) -> JSONResponse:
    def create() -> tuple[CaseStudyDetailOut, str]:
        out = service.create_case_study(session, principal, body)
        return out, path_of(router, "get_case_study", case_study_id=out.id)

    return with_etag(create_once(session, principal, request, body, create), service.KIND)


@router.patch(
    "/{case_study_id}",
    response_model=CaseStudyDetailOut,
    summary="Edit a case study (editors; If-Match): only the fields given change; lists replace the whole set",
    responses=WRITE_RESPONSES,
)
def update_case_study(
    session: SessionDep,
    principal: Editor,
    request: Request,
    response: Response,
    case_study_id: CaseStudyId,
    body: CaseStudyUpdateIn,
) -> CaseStudyDetailOut:
    expected = if_match(request, service.KIND, case_study_id)
    out = service.update_case_study(session, principal, case_study_id, body, expected)
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out


def _transition(
    session: Session,
    principal: Principal,
    request: Request,
    response: Response,
    case_study_id: int,
    action: EditorialAction,
) -> CaseStudyDetailOut:
    expected = if_match(request, service.KIND, case_study_id)
    out = service.transition_case_study(session, principal, case_study_id, action, expected)
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out


@router.post(
    "/{case_study_id}/publish",
    response_model=CaseStudyDetailOut,
    summary="Publish a draft or archived case study (editors; If-Match)",
    responses=WRITE_RESPONSES,
)
def publish_case_study(
    session: SessionDep, principal: Editor, request: Request, response: Response, case_study_id: CaseStudyId
) -> CaseStudyDetailOut:
    return _transition(session, principal, request, response, case_study_id, EditorialAction.publish)


@router.post(
    "/{case_study_id}/archive",
    response_model=CaseStudyDetailOut,
    summary="Archive a draft or published case study (editors; If-Match)",
    responses=WRITE_RESPONSES,
)
def archive_case_study(
    session: SessionDep, principal: Editor, request: Request, response: Response, case_study_id: CaseStudyId
) -> CaseStudyDetailOut:
    return _transition(session, principal, request, response, case_study_id, EditorialAction.archive)
