"""REST face of twinnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.core.concurrency import etag, expected_version, not_modified
from app.core.deps import PageDep, SessionDep
from app.core.errors import NotFound
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router
from app.twinnings import plan, service
from app.twinnings.lifecycle import FACES, TwinningAction
from app.twinnings.schemas import (
    ActivityCreateIn,
    ActivityOut,
    ActivityUpdateIn,
    OutcomeIn,
    OutcomeOut,
    ProgressOut,
    TwinningActionIn,
    TwinningCreateIn,
    TwinningFilters,
    TwinningOut,
)

TwinningsWriter = Annotated[Principal, Depends(require_scopes(Scope.twinnings_write))]

router = api_router(prefix="/api/v1/twinnings", tags=["twinnings"])


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


# ------------------------------------------------------------------------------------------- the plan
# docs/architecture.md, "Twinning plans"; the rules are app.twinnings.plan's.

PLAN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) access token"},
    403: {"description": "Neither city is yours and you are not the programme, or the token lacks twinnings:write"},
    404: {"description": "No such twinning (or activity of it)"},
    409: {"description": "The twinning is not active: its plan changes only while it runs"},
    422: {"description": "Invalid input: dates out of order, unknown KPIs"},
}
ActivityId = Id


@router.get(
    "/{twinning_id}/activities",
    response_model=Page[ActivityOut],
    summary="A twinning's activities (its plan) by start date; public, like the twinning",
)
def list_activities(session: SessionDep, page: PageDep, twinning_id: Id) -> Page[ActivityOut]:
    result = plan.list_activities(session, twinning_id, page)
    return Page(items=plan.activities_out(session, result.items), total=result.total, next_cursor=result.next_cursor)


@router.get(
    "/{twinning_id}/activities/{activity_id}",
    response_model=ActivityOut,
    summary="One activity of a twinning (its ETag is the If-Match of a PATCH)",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_activity(
    session: SessionDep, request: Request, response: Response, twinning_id: Id, activity_id: ActivityId
) -> ActivityOut | Response:
    activity = plan.get_activity(session, twinning_id, activity_id)
    tag = etag(plan.ACTIVITY_KIND, activity_id, activity.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return plan.activities_out(session, [activity])[0]


@router.post(
    "/{twinning_id}/activities",
    status_code=201,
    response_model=ActivityOut,
    summary="Add an activity to an active twinning's plan (either city's officials, or the programme)",
    responses=PLAN_RESPONSES,
)
def create_activity(
    session: SessionDep, principal: TwinningsWriter, request: Request, twinning_id: Id, body: ActivityCreateIn
) -> JSONResponse:
    def create() -> tuple[ActivityOut, str]:
        activity = plan.create_activity(session, principal, twinning_id, body)
        location = path_of(router, "get_activity", twinning_id=twinning_id, activity_id=activity.id)
        return plan.activities_out(session, [activity])[0], location

    return create_once(session, principal, request, body, create)


@router.patch(
    "/{twinning_id}/activities/{activity_id}",
    response_model=ActivityOut,
    summary="Edit an activity of an active twinning (either city's officials, or the programme; If-Match)",
    responses={**PLAN_RESPONSES, 412: {"description": "Stale If-Match"}, 428: {"description": "If-Match missing"}},
)
def update_activity(
    session: SessionDep,
    principal: TwinningsWriter,
    request: Request,
    response: Response,
    twinning_id: Id,
    activity_id: ActivityId,
    body: ActivityUpdateIn,
) -> ActivityOut:
    activity = plan.update_activity(
        session,
        principal,
        twinning_id,
        activity_id,
        lambda: expected_version(request, plan.ACTIVITY_KIND, activity_id),
        body,
    )
    session.commit()
    response.headers["ETag"] = etag(plan.ACTIVITY_KIND, activity_id, activity.version)
    return plan.activities_out(session, [plan.get_activity(session, twinning_id, activity_id)])[0]


@router.delete(
    "/{twinning_id}/activities/{activity_id}",
    status_code=204,
    summary="Delete an activity of an active twinning (either city's officials, or the programme)",
    responses=PLAN_RESPONSES,
)
def delete_activity(
    session: SessionDep, principal: TwinningsWriter, twinning_id: Id, activity_id: ActivityId
) -> Response:
    plan.delete_activity(session, principal, twinning_id, activity_id)
    session.commit()
    return Response(status_code=204)


@router.get(
    "/{twinning_id}/outcome",
    response_model=OutcomeOut,
    summary="What a completed twinning achieved, as the programme recorded it (public, like the twinning)",
    responses={404: {"description": "No such twinning, or no outcome recorded yet"}},
)
def get_outcome(session: SessionDep, twinning_id: Id) -> OutcomeOut:
    outcome = plan.get_outcome(session, twinning_id)
    if outcome is None:
        raise NotFound(
            f"Twinning {twinning_id} has no outcome yet: the programme records it once the twinning is completed."
        )
    return outcome


@router.put(
    "/{twinning_id}/outcome",
    response_model=OutcomeOut,
    summary="Record (201) or replace (200) a completed twinning's outcome: a summary and notes per aimed KPI "
    "(the programme: coordinators, admins)",
    responses={
        **PLAN_RESPONSES,
        201: {"description": "Recorded"},
        403: {"description": "Not the programme, or the token lacks twinnings:write"},
        409: {"description": "The twinning is not completed"},
        422: {"description": "Invalid input: a note on a KPI the plan does not aim at"},
    },
)
def put_outcome(
    session: SessionDep, principal: TwinningsWriter, response: Response, twinning_id: Id, body: OutcomeIn
) -> OutcomeOut:
    out, created = plan.put_outcome(session, principal, twinning_id, body)
    session.commit()
    response.status_code = 201 if created else 200
    return out


@router.get(
    "/{twinning_id}/progress",
    response_model=ProgressOut,
    summary="Each KPI the plan aims at: both cities' values before and after the twinning, side by side "
    "(a city's values only if you may read them)",
    responses={404: {"description": "No such twinning"}},
)
def get_progress(session: SessionDep, principal: PrincipalDep, twinning_id: Id) -> ProgressOut:
    return plan.progress(session, principal, twinning_id)
