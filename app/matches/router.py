"""REST face of matches: solutions for a city, leads for a solution, twin partners, saved match runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import AuthenticatedDep, PrincipalDep
from app.core.concurrency import etag, not_modified
from app.core.deps import PageDep, SessionDep, SettingsDep
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router
from app.matches import service
from app.matches.models import MatchKind
from app.matches.schemas import (
    CityLeadsOut,
    LeadScope,
    MatchInclude,
    MatchRunIn,
    MatchRunOut,
    MatchRunSummaryOut,
    MatchScope,
    SolutionMatchesOut,
    TwinMatchesOut,
)

router = api_router(prefix="/api/v1", tags=["matches"])

CityId = Id
Limit = Annotated[int, Query(ge=1, le=100, description="How many results (1-100)")]


@router.get(
    "/cities/{city_id}/solution-matches",
    response_model=SolutionMatchesOut,
    summary="Published solutions for the city's weakest KPIs, with the reasons",
)
def solution_matches(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    city_id: CityId,
    limit: Limit = 20,
    scope: Annotated[
        MatchScope | None,
        Query(description="country: offered in the city's country (default); hub: in a hub's catalogue; all"),
    ] = None,
    hub: Annotated[Id | None, Query(description="The hub whose catalogue to use (implies scope=hub)")] = None,
    category: Annotated[
        str | None, Query(min_length=1, max_length=64, description='e.g. "Water and Sanitation"')
    ] = None,
    language: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2}$", description="Offered in this language (ISO 639-1)")
    ] = None,
    include: Annotated[
        list[MatchInclude] | None,
        Query(description="unmeasured: also the listings for KPIs the city does not report, as a separate list"),
    ] = None,
) -> SolutionMatchesOut:
    return service.solution_matches(
        session,
        principal,
        settings,
        city_id,
        limit=limit,
        scope=scope,
        hub=hub,
        category=category,
        language=language,
        include=frozenset(include or ()),
    )


@router.get(
    "/solutions/{solution_id}/city-matches",
    response_model=CityLeadsOut,
    summary="Cities (with public data) that need this solution most: a vendor's leads",
)
def city_matches(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    solution_id: Id,
    limit: Limit = 20,
    scope: Annotated[
        LeadScope, Query(description="offered: cities in the countries where it is offered (default); all")
    ] = LeadScope.offered,
) -> CityLeadsOut:
    return service.solution_leads(session, principal, settings, solution_id, limit=limit, scope=scope)


@router.get(
    "/cities/{city_id}/twin-matches",
    response_model=TwinMatchesOut,
    summary="Twin-city partners: complementarity, shared challenges, context similarity",
)
def twin_matches(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep, city_id: CityId, limit: Limit = 20
) -> TwinMatchesOut:
    return service.twin_matches(session, principal, settings, city_id, limit=limit)


@router.post(
    "/cities/{city_id}/match-runs",
    response_model=MatchRunOut,
    status_code=201,
    summary="Save a match run: its inputs and ranking, frozen (Idempotency-Key accepted)",
)
def create_match_run(
    session: SessionDep,
    principal: AuthenticatedDep,
    settings: SettingsDep,
    request: Request,
    city_id: CityId,
    body: MatchRunIn,
) -> JSONResponse:
    def create() -> tuple[MatchRunOut, str]:
        out = service.create_match_run(
            session, principal, settings, city_id, body, request_id=request.headers.get("x-request-id", "")
        )
        return out, path_of(router, "get_match_run", city_id=city_id, run_id=out.id)

    return create_once(session, principal, request, body, create)


@router.get(
    "/cities/{city_id}/match-runs",
    response_model=Page[MatchRunSummaryOut],
    summary="The city's saved match runs, newest first",
)
def list_match_runs(
    session: SessionDep,
    principal: AuthenticatedDep,
    page: PageDep,
    city_id: CityId,
    kind: Annotated[MatchKind | None, Query(description="solutions or twins")] = None,
) -> Page[MatchRunSummaryOut]:
    result = service.list_match_runs(session, principal, city_id, page, kind)
    return Page(
        items=[service.run_summary(r) for r in result.items], total=result.total, next_cursor=result.next_cursor
    )


@router.get(
    "/cities/{city_id}/match-runs/{run_id}",
    response_model=MatchRunOut,
    summary="A saved match run: the same ranking as when it was saved",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_match_run(
    session: SessionDep,
    principal: AuthenticatedDep,
    request: Request,
    response: Response,
    city_id: CityId,
    run_id: Id,
) -> MatchRunOut | Response:
    out = service.get_match_run(session, principal, city_id, run_id)
    tag = etag("match_run", out.id, 1)  # a run never changes
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return out
