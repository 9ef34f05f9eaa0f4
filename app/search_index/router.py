"""REST face of search: `GET /api/v1/search`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request, Response

from app.core.localized import WantedDep
from app.core.negotiation import language_headers
from app.core.responses import json_response
from app.core.routing import api_router
from app.search_index.service import FACET_NAMES, MAX_PER_PAGE, SearchOut, SearchParams, search_catalogue
from search import SearchEngine

router = api_router(prefix="/api/v1", tags=["search"])

Values = Annotated[list[str] | None, Query()]
# The schema says which values are accepted, so that a client (or a fuzzer) learns it before a 422.
DocType = Literal["solution", "case_study", "vendor", "guideline"]
_FACET = "|".join(sorted(FACET_NAMES.values()))
FACETS_PATTERN = rf"^\s*({_FACET})?(\s*,\s*({_FACET})?)*\s*$"
SORT_PATTERN = r"^(year|title)(:(asc|desc))?$"


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Full-text search across the catalogue",
    responses={503: {"description": "Search is unavailable, or its index is not built yet (Retry-After)"}},
)
def search(
    request: Request,
    q: Annotated[str, Query(max_length=500, description="Words to find; typos are forgiven")] = "",
    type: Annotated[list[DocType] | None, Query(description="The kinds of document (repeat for several)")] = None,
    country: Values = None,
    city: Values = None,
    category: Values = None,
    dimension: Values = None,
    sdg: Values = None,
    kpi: Values = None,
    vendor: Values = None,
    hub: Values = None,
    language: Values = None,
    year: Values = None,
    facets: Annotated[
        str,
        Query(pattern=FACETS_PATTERN, description="Comma-separated: type, category, dimension, country, sdg, language"),
    ] = "type,category",
    sort: Annotated[
        str | None, Query(pattern=SORT_PATTERN, description="year or title, with :asc or :desc; default relevance")
    ] = None,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
    wanted: WantedDep = [],  # noqa: B006  (a dependency's value; FastAPI ignores the default)
) -> Response:
    """Filters are OR within one parameter (repeat it) and AND across parameters; facets count with all
    filters applied; pages are numbered with an exact total."""
    engine: SearchEngine = request.app.state.search
    given = {
        "country": country,
        "city": city,
        "category": category,
        "dimension": dimension,
        "sdg": sdg,
        "kpi": kpi,
        "vendor": vendor,
        "hub": hub,
        "language": language,
        "year": year,
    }
    filters = {name: tuple(values) for name, values in given.items() if values}
    if type:
        filters["type"] = tuple(type)
    params = SearchParams(
        q=q,
        types=tuple(type or ()),
        filters=filters,
        facets=tuple(f.strip() for f in facets.split(",") if f.strip()),
        sort=sort,
        page=page,
        per_page=per_page,
        wanted=tuple(wanted),
    )
    out = search_catalogue(engine, params)
    return json_response(out, headers=language_headers(hit.language for hit in out.hits))
