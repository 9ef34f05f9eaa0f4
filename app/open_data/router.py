"""REST face of open data: public exports, each naming its licence (and linking it: `Link: rel="license"`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.engine import Engine

from app.core.deps import SessionDep, SettingsDep, get_engine
from app.core.routing import api_router
from app.open_data import service

router = api_router(prefix="/api/v1/open-data", tags=["open data"])

Format = Annotated[Literal["csv", "json"], Query(description="csv (default) or json")]


@router.get(
    "/kpi-values",
    summary="Every public city's KPI values, streamed as CSV or JSON, under the platform's open-data licence",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}, "description": "Streamed"}},
)
def kpi_values(
    settings: SettingsDep, engine: Annotated[Engine, Depends(get_engine)], format: Format = "csv"
) -> StreamingResponse:
    headers = {"Link": service.link_header(settings), "X-Licence": settings.open_data_licence}
    chunk = settings.open_data_chunk_rows
    if format == "json":
        return StreamingResponse(
            service.kpi_values_json(engine, chunk, settings), media_type="application/json", headers=headers
        )
    headers["Content-Disposition"] = 'attachment; filename="citymarket-kpi-values.csv"'
    return StreamingResponse(
        service.kpi_values_csv(engine, chunk), media_type="text/csv; charset=utf-8", headers=headers
    )


@router.get(
    "/kpi-framework",
    summary="The KPI framework (one row per data point, with its benchmark) as CSV or JSON",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}, "description": "The framework"}},
)
def kpi_framework(session: SessionDep, settings: SettingsDep, format: Format = "csv") -> Response:
    rows = service.kpi_framework_rows(session)
    headers = {"Link": service.link_header(settings), "X-Licence": settings.open_data_licence}
    if format == "json":
        body: dict[str, Any] = {"licence": service.licence(settings), "data_points": rows}
        return JSONResponse(body, headers=headers)
    headers["Content-Disposition"] = 'attachment; filename="citymarket-kpi-framework.csv"'
    return Response(service.kpi_framework_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)


@router.get(
    "/ocds/releases",
    summary="Awarded challenges as an OCDS 1.1 release package (tender and award sections)",
    responses={200: {"content": {"application/json": {}}, "description": "An OCDS release package"}},
)
def ocds_releases(session: SessionDep, settings: SettingsDep, request: Request) -> JSONResponse:
    package = service.ocds_release_package(session, settings, str(request.url))
    return JSONResponse(package, headers={"Link": service.link_header(settings)})
