"""REST face of twinnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import require_scopes
from app.auth.principal import Principal, Scope
from app.core.concurrency import etag, expected_version, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.pagination import Page
from app.core.routing import api_router
from app.twinnings import service
from app.twinnings.lifecycle import TwinningAction
from app.twinnings.models import TwinningStatus
from app.twinnings.schemas import TwinningActionIn, TwinningCreateIn, TwinningOut

TwinningsWriter = Annotated[Principal, Depends(require_scopes(Scope.twinnings_write))]

router = api_router(prefix="/api/v1/twinnings", tags=["twinnings"])


@router.get("", response_model=Page[TwinningOut], summary="List twinnings, newest proposals first")
def list_twinnings(
    session: SessionDep,
    page: PageDep,
    city: Annotated[Id | None, Query(description="City id, on either side")] = None,
    status: Annotated[TwinningStatus | None, Query()] = None,
    kpi: Annotated[str | None, Query(max_length=64, description="Focus KPI (slug or official code)")] = None,
) -> Page[TwinningOut]:
    result = service.list_twinnings(session, service.TwinningFilters(city=city, status=status, kpi=kpi), page)
    return Page(items=service.to_out(session, result.items), total=result.total, next_cursor=result.next_cursor)


@router.get(
    "/{twinning_id}",
    response_model=TwinningOut,
    summary="One twinning",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_twinning(session: SessionDep, request: Request, response: Response, twinning_id: Id) -> TwinningOut | Response:
    twinning = service.get_twinning(session, twinning_id)
    tag = etag("twinning", twinning_id, twinning.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return service.to_out(session, [twinning])[0]


@router.post(
    "",
    status_code=201,
    response_model=TwinningOut,
    summary="Propose a twinning (an official of one of the cities, or the programme)",
    responses={
        403: {"description": "Neither city is yours, and you are not the programme"},
        409: {"description": "The pair already has a proposed, accepted or active twinning"},
        422: {"description": "Same city twice, unknown city, KPI or category"},
    },
)
def propose_twinning(
    session: SessionDep, principal: TwinningsWriter, request: Request, body: TwinningCreateIn
) -> JSONResponse:
    def create() -> tuple[TwinningOut, str]:
        twinning = service.propose(session, principal, body)
        return service.to_out(session, [twinning])[0], f"/api/v1/twinnings/{twinning.id}"

    return create_once(session, principal, request, body, create)


ACTION_SUMMARIES = {
    TwinningAction.accept: "Accept a proposed twinning (the invited city's officials, or the programme)",
    TwinningAction.decline: "Decline a proposed twinning (the invited city's officials, or the programme)",
    TwinningAction.activate: "Start an accepted twinning (either city's officials, or the programme)",
    TwinningAction.complete: "Complete an active twinning (either city's officials, or the programme)",
    TwinningAction.lapse: "Declare a proposed or accepted twinning lapsed (the programme)",
}
ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not allowed to take this action on this twinning"},
    404: {"description": "No such twinning"},
    409: {"description": "The twinning's status does not allow this action (the answer lists those it allows)"},
    412: {"description": "Stale If-Match"},
    428: {"description": "If-Match missing"},
}


def _action_route(action: TwinningAction) -> Callable[..., TwinningOut]:
    def act(
        session: SessionDep,
        principal: TwinningsWriter,
        request: Request,
        response: Response,
        twinning_id: Id,
        body: TwinningActionIn | None = None,
    ) -> TwinningOut:
        twinning = service.transition(
            session,
            principal,
            twinning_id,
            action,
            lambda: expected_version(request, "twinning", twinning_id),
            note=body.note if body else "",
        )
        session.commit()
        response.headers["ETag"] = etag("twinning", twinning_id, twinning.version)
        return service.to_out(session, [twinning])[0]

    act.__name__ = f"{action.value}_twinning"
    return act


for _action in TwinningAction:
    router.add_api_route(
        f"/{{twinning_id}}/{_action.value}",
        _action_route(_action),
        methods=["POST"],
        response_model=TwinningOut,
        summary=ACTION_SUMMARIES[_action],
        responses=ACTION_RESPONSES,
    )
