"""REST face of scorecards."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Query, Request, Response

from app.auth.deps import PrincipalDep
from app.core.concurrency import not_modified
from app.core.deps import SessionDep, SettingsDep
from app.core.ids import Id
from app.core.routing import api_router
from app.scorecards import service
from app.scorecards.schemas import ScorecardOut
from app.scorecards.wheel import render_wheel

SVG = "image/svg+xml"
YearQuery = Annotated[
    int | None,
    Query(ge=1900, le=2200, description="The latest value of each data point up to this year (default: latest)"),
]

router = api_router(prefix="/api/v1/cities", tags=["scorecards"])


@router.get(
    "/{city_id}/scorecard",
    response_model=ScorecardOut,
    summary="The city's U4SSC scorecard: each KPI against its benchmark, roll-ups, and what is missing",
)
def get_scorecard(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    city_id: Id,
    year: YearQuery = None,
) -> ScorecardOut:
    return service.city_scorecard(session, principal, settings, city_id, year)


def wheel_etag(svg: str) -> str:
    """A scorecard has no version of its own (it moves with any observation, benchmark or KPI), but its
    wheel is deterministic: the hash of the bytes names the representation exactly."""
    return f'"wheel-{hashlib.sha256(svg.encode()).hexdigest()[:32]}"'


@router.get(
    "/{city_id}/scorecard/wheel.svg",
    response_class=Response,
    summary="The scorecard as a U4SSC wheel (SVG): dimensions, sub-dimensions and categories by band",
    responses={
        200: {"content": {SVG: {}}, "description": "The wheel; the same scorecard gives the same bytes"},
        304: {"description": "Not modified (If-None-Match)"},
        404: {"description": "No such city, or its data is private"},
    },
)
def get_scorecard_wheel(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    request: Request,
    city_id: Id,
    year: YearQuery = None,
) -> Response:
    # The scorecard's own visibility check: a private city's wheel is a 404, like its scorecard.
    svg = render_wheel(service.city_scorecard(session, principal, settings, city_id, year))
    tag = wheel_etag(svg)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    # No Cache-Control here, as for the other reads: the headers middleware adds no-store to an
    # answer given with credentials (a private city's wheel), and Vary: Authorization to all.
    return Response(svg, media_type=SVG, headers={"ETag": tag})
