"""REST face of solutions (vendors' listings): reads, writes, and the lifecycle actions (app.solutions.lifecycle)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.audit.schemas import AuditEventOut
from app.auth.deps import PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.core.concurrency import etag, if_match, set_etag, with_etag
from app.core.deps import PageDep, SessionDep, closes_session
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.localized import WantedDep, localized_detail
from app.core.negotiation import language_headers
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.responses import json_response
from app.core.routing import api_router
from app.solutions import lifecycle, service
from app.solutions.schemas import (
    ReviewNoteIn,
    SolutionCreateIn,
    SolutionDetailOut,
    SolutionFilters,
    SolutionOut,
    SolutionTranslationIn,
    SolutionTranslationOut,
    SolutionUpdateIn,
)

router = api_router(prefix="/api/v1/solutions", tags=["solutions"])


@router.get("", response_model=Page[SolutionOut], summary="List the solutions you may see (the published ones)")
@closes_session
def list_solutions(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    filters: Annotated[SolutionFilters, Query()],
    sort: Annotated[
        service.SolutionSort, Query(description="alphabetical (by title), or newest first")
    ] = service.SolutionSort.alphabetical,
    wanted: WantedDep = [],  # noqa: B006  (a dependency's value; FastAPI ignores the default)
) -> Response:
    result = service.list_solutions(session, principal, filters, page, sort)
    items = service.localize_in(session, result.items, wanted)
    return json_response(
        Page[SolutionOut](items=items, total=result.total, next_cursor=result.next_cursor),
        headers=language_headers(o.language for o in items),
    )


@router.get(
    "/{solution_id}",
    response_model=SolutionDetailOut,
    summary="One solution with its KPI impact claims and deployments",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
@closes_session
def get_solution(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    solution_id: Id,
    wanted: WantedDep,
) -> Response:
    out = service.localize_in(session, [service.get_solution_detail(session, principal, solution_id)], wanted)[0]
    return localized_detail(request, out, etag("solution", out.id, out.version))


# ------------------------------------------------------------------------------------------------- writes

VendorWriter = Annotated[Principal, Depends(require_scopes(Scope.solutions_write))]
SolutionId = Id
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) token"},
    403: {"description": "Not yours, or the token lacks the scope"},
    404: {"description": "No such listing, or one you may not see"},
    409: {"description": "Not allowed in the listing's current status (names it and your possible moves)"},
    412: {"description": "If-Match is stale: someone changed the listing since you read it"},
    422: {"description": "Invalid input (names each bad field); unknown fields are refused"},
    428: {"description": "If-Match missing"},
}


@router.post(
    "",
    status_code=201,
    response_model=SolutionDetailOut,
    summary="Create a draft listing for your vendor (Idempotency-Key supported)",
    responses={**WRITE_RESPONSES, 201: {"description": "Created; Location names it"}},
)
def create_solution(
    session: SessionDep, principal: VendorWriter, request: Request, body: SolutionCreateIn
) -> JSONResponse:
    def create() -> tuple[SolutionDetailOut, str]:
        out = service.create_solution(session, principal, body)
        return out, path_of(router, "get_solution", solution_id=out.id)

    return with_etag(create_once(session, principal, request, body, create), service.KIND)


@router.patch(
    "/{solution_id}",
    response_model=SolutionDetailOut,
    summary="Edit a listing (If-Match): only the fields given change; lists replace the whole set",
    responses=WRITE_RESPONSES,
)
def update_solution(
    session: SessionDep,
    principal: VendorWriter,
    request: Request,
    response: Response,
    solution_id: SolutionId,
    body: SolutionUpdateIn,
) -> SolutionDetailOut:
    out = service.update_solution(session, principal, solution_id, body, if_match(request, service.KIND, solution_id))
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out


@router.delete(
    "/{solution_id}",
    status_code=204,
    summary="Delete a draft that was never submitted (If-Match); archive anything else",
    responses=WRITE_RESPONSES,
)
def delete_solution(
    session: SessionDep, principal: VendorWriter, request: Request, solution_id: SolutionId
) -> Response:
    service.delete_solution(session, principal, solution_id, if_match(request, service.KIND, solution_id))
    session.commit()
    return Response(status_code=204)


NoteBody = Annotated[ReviewNoteIn | None, Body()]


def _transition_route(transition: lifecycle.Transition) -> Callable[..., SolutionDetailOut]:
    """The REST endpoint of one lifecycle move; the token's scopes are the route's dependency (see the loop)."""
    action = transition.action

    def act(
        session: SessionDep,
        principal: PrincipalDep,
        request: Request,
        response: Response,
        solution_id: SolutionId,
        body: NoteBody = None,
    ) -> SolutionDetailOut:
        note = body.note if body is not None else ""
        expected = if_match(request, service.KIND, solution_id)
        out = service.transition_solution(session, principal, solution_id, action, expected, note)
        session.commit()
        set_etag(response, service.KIND, out.id, out.version)
        return out

    act.__name__ = transition.face.name
    return act


# One route per move of the lifecycle table: POST /api/v1/solutions/{id}/<action>, named, summarised and
# scoped as the table says (app/solutions/graphql.py makes the mutations from the same table).
for _transition in lifecycle.TRANSITIONS.values():
    router.add_api_route(
        f"/{{solution_id}}/{_transition.action.value}",
        _transition_route(_transition),
        methods=["POST"],
        response_model=SolutionDetailOut,
        responses=WRITE_RESPONSES,
        **_transition.face.route_options(),
    )


@router.get(
    "/{solution_id}/translations",
    response_model=list[SolutionTranslationOut],
    summary="A listing's translations (title, summary, description), by language",
)
def list_translations(
    session: SessionDep, principal: PrincipalDep, solution_id: SolutionId
) -> list[SolutionTranslationOut]:
    return service.list_translations(session, principal, solution_id)


@router.put(
    "/{solution_id}/translations/{lang}",
    response_model=SolutionTranslationOut,
    summary="Create (201) or replace (200) a listing's translation into one language (BCP 47): its vendor and "
    "admins; a machine translation never replaces a human one (409)",
    responses={**WRITE_RESPONSES, 201: {"description": "Created"}},
)
def put_translation(
    session: SessionDep,
    principal: VendorWriter,
    response: Response,
    solution_id: SolutionId,
    lang: str,
    body: SolutionTranslationIn,
) -> SolutionTranslationOut:
    out, created = service.put_translation(session, principal, solution_id, lang, body)
    session.commit()
    response.status_code = 201 if created else 200
    response.headers["Content-Language"] = out.language
    return out


@router.get(
    "/{solution_id}/history",
    response_model=Page[AuditEventOut],
    summary="A listing's audit trail, newest first: edits, submissions, review decisions and their notes "
    "(its vendor and the reviewers)",
)
def solution_history(
    session: SessionDep, principal: PrincipalDep, page: PageDep, solution_id: SolutionId
) -> Page[AuditEventOut]:
    result = service.solution_history(session, principal, solution_id, page)
    return Page(
        items=[AuditEventOut.from_model(e) for e in result.items], total=result.total, next_cursor=result.next_cursor
    )
