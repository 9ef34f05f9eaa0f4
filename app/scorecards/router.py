"""REST face of scorecards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import PrincipalDep
from app.core.deps import SessionDep, SettingsDep
from app.core.ids import Id
from app.scorecards import service
from app.scorecards.schemas import ScorecardOut

router = APIRouter(prefix="/api/v1/cities", tags=["scorecards"])


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
    year: Annotated[
        int | None,
        Query(ge=1900, le=2200, description="The latest value of each data point up to this year (default: latest)"),
    ] = None,
) -> ScorecardOut:
    return service.city_scorecard(session, principal, settings, city_id, year)
