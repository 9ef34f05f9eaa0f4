"""GraphQL face of search: the same service and output schema as `GET /api/v1/search`."""

from __future__ import annotations

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from app.graphql.context import Context
from app.graphql.languages import LangArg, wanted
from app.search_index.service import SearchHitOut, SearchOut, SearchParams, search_catalogue
from search import SearchEngine


@strawberry.experimental.pydantic.type(model=SearchHitOut, all_fields=True)
class SearchHit:
    highlights: JSON


@strawberry.experimental.pydantic.type(model=SearchOut, all_fields=True)
class SearchResults:
    facets: JSON


@strawberry.input(description="Filters: OR within one list, AND across lists.")
class SearchFilters:
    country: list[str] | None = None
    city: list[str] | None = None
    category: list[str] | None = None
    dimension: list[str] | None = None
    sdg: list[str] | None = None
    kpi: list[str] | None = None
    vendor: list[str] | None = None
    hub: list[str] | None = None
    language: list[str] | None = None
    year: list[str] | None = None


@strawberry.type
class SearchQueries:
    @strawberry.field(description="Full-text search across solutions, case studies, vendors and guidelines.")
    async def search(
        self,
        info: strawberry.Info[Context, None],
        q: str = "",
        types: list[str] | None = None,
        filters: SearchFilters | None = None,
        facets: list[str] | None = None,
        sort: str | None = None,
        page: int = 1,
        per_page: int = 20,
        lang: LangArg = None,
    ) -> SearchResults:
        given = {name: tuple(values) for name, values in vars(filters or SearchFilters()).items() if values}
        if types:
            given["type"] = tuple(types)
        params = SearchParams(
            q=q,
            types=tuple(types or ()),
            filters=given,
            facets=tuple(facets) if facets is not None else ("type", "category"),
            sort=sort,
            page=page,
            per_page=per_page,
            wanted=tuple(wanted(lang)),
        )
        # The engine lives on the app (one per process); the search runs in the thread pool, off the loop.
        request = info.context.request
        assert request is not None  # always set by the GraphQL router
        engine: SearchEngine = request.app.state.search
        result = await run_in_threadpool(search_catalogue, engine, params)
        return SearchResults.from_pydantic(result)
