"""REST face of twinnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.core.concurrency import etag, expected_version, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.pagination import Page
from app.core.paths import path_of
from app.twinnings import service
from app.twinnings.lifecycle import FACES, TwinningAction
from app.twinnings.schemas import TwinningActionIn, TwinningCreateIn, TwinningFilters, TwinningOut

TwinningsWriter = Annotated[Principal, Depends(require_scopes(Scope.twinnings_write))]

router = APIRouter(prefix="/api/v1/twinnings", tags=["twinnings"])


@router.get("", response_model=Page[TwinningOut], summary="List twinnings, newest proposals first")
def list_twinnings(
    session: SessionDep,
    page: PageDep,
    filters: Annotated[TwinningFilters, Query()],
) -> Page[TwinningOut]:
    result = service.list_twinnings(session, filters, page)
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
        return service.to_out(session, [twinning])[0], path_of(router, "get_twinning", twinning_id=twinning.id)

    return create_once(session, principal, request, body, create)


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
        principal: PrincipalDep,
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

    act.__name__ = FACES[action].name
    return act


# One route per action of the lifecycle table, named, summarised and scoped as it says (the GraphQL
# mutations are made from the same table).
for _action, _face in FACES.items():
    router.add_api_route(
        f"/{{twinning_id}}/{_action.value}",
        _action_route(_action),
        methods=["POST"],
        response_model=TwinningOut,
        responses=ACTION_RESPONSES,
        **_face.route_options(),
    )
