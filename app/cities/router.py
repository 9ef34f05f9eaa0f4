"""REST face of cities: the profile, and the KPI values (a time series; see app.cities.kpi_values)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import AuthenticatedDep, PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.cities import kpi_values, service
from app.cities.schemas import (
    CityCreateIn,
    CityDetailOut,
    CityFilters,
    CityOut,
    CityUpdateIn,
    KpiObservationOut,
    KpiValueExportRow,
    KpiValuesExportOut,
    KpiValuesPutIn,
    KpiValuesVerifyIn,
    KpiValuesVerifyOut,
    KpiValuesWriteOut,
)
from app.cities.uploads import CSV_TYPES, FILE_FIELD, MULTIPART, read_csv_upload
from app.core.concurrency import etag, expected_version, not_modified
from app.core.deps import PageDep, SessionDep, SettingsDep
from app.core.idempotency import create_once
from app.core.ids import Id
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router

router = api_router(prefix="/api/v1/cities", tags=["cities"])

CityId = Id
CitiesWriter = Annotated[Principal, Depends(require_scopes(Scope.cities_write))]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) access token"},
    403: {"description": "Not allowed for this city, or the token lacks the scope"},
    404: {"description": "No such city"},
    422: {"description": "Invalid input (problem+json listing the fields or rows)"},
}


@router.get("", response_model=Page[CityOut], summary="List cities")
def list_cities(
    session: SessionDep,
    page: PageDep,
    filters: Annotated[CityFilters, Query()],
    sort: service.CitySort = service.CitySort.name,
) -> Page[CityOut]:
    result = service.list_cities(session, filters, page, sort)
    return Page(
        items=[CityOut.from_model(c) for c in result.items],
        total=result.total,
        next_cursor=result.next_cursor,
    )


@router.get(
    "/{city_id}",
    response_model=CityDetailOut,
    summary="One city with its latest KPI values",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_city(
    session: SessionDep, principal: PrincipalDep, request: Request, response: Response, city_id: CityId
) -> CityDetailOut | Response:
    out = service.get_city_detail(session, city_id, principal)
    tag = etag("city", out.id, out.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return out


@router.post(
    "",
    status_code=201,
    response_model=CityDetailOut,
    summary="Onboard a city (admins; curators of a hub serving its country)",
    responses={**PROBLEMS, 409: {"description": "The country already has a city of that name"}},
)
def create_city(session: SessionDep, principal: AuthenticatedDep, request: Request, body: CityCreateIn) -> JSONResponse:
    created: list[CityDetailOut] = []

    def create() -> tuple[CityDetailOut, str]:
        city = service.create_city(session, principal, body)
        out = service.get_city_detail(session, city.id or 0, principal)
        created.append(out)
        return out, path_of(router, "get_city", city_id=out.id)

    answer = create_once(session, principal, request, body, create)
    if created:
        answer.headers["ETag"] = etag("city", created[0].id, created[0].version)
    return answer


@router.patch(
    "/{city_id}",
    response_model=CityDetailOut,
    summary="Edit a city's profile (its officials, admins; If-Match)",
    responses={
        **PROBLEMS,
        409: {"description": "The country already has a city of that name"},
        412: {"description": "Stale If-Match"},
        428: {"description": "If-Match missing"},
    },
)
def update_city(
    session: SessionDep,
    principal: CitiesWriter,
    request: Request,
    response: Response,
    city_id: CityId,
    body: CityUpdateIn,
) -> CityDetailOut:
    service.update_city(session, principal, city_id, lambda: expected_version(request, "city", city_id), body)
    session.commit()
    out = service.get_city_detail(session, city_id, principal)
    response.headers["ETag"] = etag("city", out.id, out.version)
    return out


# ------------------------------------------------------------------------------------------- KPI values


@router.get(
    "/{city_id}/kpi-values",
    response_model=Page[KpiObservationOut],
    summary="A city's KPI values, every year (public when the city publishes its data)",
    responses={403: {"description": "The city's values are private"}, 404: {"description": "No such city"}},
)
def list_kpi_values(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    city_id: CityId,
    kpi: Annotated[str | None, Query(max_length=64, description="KPI slug or official code")] = None,
    data_point: Annotated[str | None, Query(max_length=64, description='Data point key ("PM2.5")')] = None,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
) -> Page[KpiObservationOut]:
    filters = kpi_values.ValueFilters(kpi=kpi, data_point=data_point, year=year)
    result = kpi_values.list_values(session, principal, city_id, filters, page)
    return Page(
        items=[KpiObservationOut.from_observation(o) for o in result.items],
        total=result.total,
        next_cursor=result.next_cursor,
    )


@router.get(
    "/{city_id}/kpi-values/export",
    response_model=KpiValuesExportOut,
    summary="Download a city's KPI values as CSV (the import's columns plus verified) or JSON",
    responses={
        200: {"content": {"text/csv": {}}, "description": "The values (CSV is an attachment)"},
        403: {"description": "The city's values are private"},
        404: {"description": "No such city"},
    },
)
def export_kpi_values(
    session: SessionDep,
    principal: PrincipalDep,
    city_id: CityId,
    format: Annotated[Literal["csv", "json"], Query(description="csv (default) or json")] = "csv",
    kpi: Annotated[str | None, Query(max_length=64, description="KPI slug or official code")] = None,
    data_point: Annotated[str | None, Query(max_length=64)] = None,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
) -> Response | KpiValuesExportOut:
    filters = kpi_values.ValueFilters(kpi=kpi, data_point=data_point, year=year)
    city, observations = kpi_values.export_values(session, principal, city_id, filters)
    if format == "json":
        return KpiValuesExportOut(
            city_id=city_id,
            city_slug=city.slug,
            values=[KpiValueExportRow(**kpi_values.export_row(o)) for o in observations],
        )
    return Response(
        kpi_values.to_csv(observations),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{city.slug}-kpi-values.csv"'},
    )


@router.put(
    "/{city_id}/kpi-values",
    response_model=KpiValuesWriteOut,
    summary="Upsert KPI values in bulk: all rows or none (its officials, admins)",
    responses=PROBLEMS,
)
def put_kpi_values(
    session: SessionDep, principal: CitiesWriter, city_id: CityId, body: KpiValuesPutIn
) -> KpiValuesWriteOut:
    result = kpi_values.upsert_values(session, principal, city_id, body.values)
    session.commit()
    return result


def _writable_city(session: SessionDep, principal: CitiesWriter, city_id: CityId) -> int:
    kpi_values.check_can_write(session, principal, city_id)
    return city_id


async def _csv_upload(
    request: Request, settings: SettingsDep, city_id: Annotated[int, Depends(_writable_city)]
) -> bytes:
    # Depends on the permission check, so that a caller without the right is refused before the upload is read.
    return await read_csv_upload(request, settings.upload_max_bytes)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            CSV_TYPES[0]: {"schema": {"type": "string", "format": "binary"}},
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                    "required": [FILE_FIELD],
                }
            },
        },
    }
}


@router.post(
    "/{city_id}/kpi-values/import",
    response_model=KpiValuesWriteOut,
    summary="Import KPI values from a CSV file: all rows or none (its officials, admins)",
    description=(
        "Columns (header required): kpi, data_point, year, value, data_quality, source; optional note (and "
        "verified, which is ignored: an export imports as is). UTF-8, with or without a BOM, LF or CRLF. "
        "When any row is invalid nothing is written, and the 422 lists every bad row by its line number."
    ),
    openapi_extra=_IMPORT_BODY,
    responses={
        **PROBLEMS,
        413: {"description": "Larger than the upload limit"},
        415: {"description": "Neither text/csv nor multipart/form-data"},
    },
)
def import_kpi_values(
    session: SessionDep,
    principal: CitiesWriter,
    city_id: Annotated[int, Depends(_writable_city)],
    data: Annotated[bytes, Depends(_csv_upload)],
) -> KpiValuesWriteOut:
    result = kpi_values.import_csv(session, principal, city_id, data)
    session.commit()
    return result


@router.post(
    "/{city_id}/kpi-values/verify",
    response_model=KpiValuesVerifyOut,
    summary="Mark KPI values verified, or withdraw it (admins)",
    responses=PROBLEMS,
)
def verify_kpi_values(
    session: SessionDep, principal: AuthenticatedDep, city_id: CityId, body: KpiValuesVerifyIn
) -> KpiValuesVerifyOut:
    result = kpi_values.verify_values(session, principal, city_id, body)
    session.commit()
    return result
