"""Searching the catalogue: what `GET /api/v1/search` and GraphQL's `search` both call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from app.core.errors import InvalidInput, ServiceUnavailable
from app.core.negotiation import negotiate
from app.kpis.service import slugify_code
from app.search_index.documents import DOC_TYPES, object_id_of
from app.search_index.indexes import FACET_FIELDS, FILTER_FIELDS
from search import IndexNotFound, InvalidQuery, SearchEngine, SearchQuery, SearchResult, SearchUnavailable

# Searching all types, equally relevant hits go to the type listed first: case studies (the evidence),
# then solutions, vendors and guidelines.
INDEX_OF_TYPE = {"case_study": "case_studies", "solution": "solutions", "vendor": "vendors", "guideline": "guidelines"}
assert set(INDEX_OF_TYPE.items()) == {(t, i) for i, t in DOC_TYPES.items()}
PATHS = {
    "solution": "/api/v1/solutions/{id}",
    "case_study": "/api/v1/case-studies/{id}",
    "vendor": "/api/v1/vendors/{id}",
    "guideline": "/api/v1/procurement-guidelines/{id}",
}
SORTABLE = {"year", "title"}
MAX_PER_PAGE = 100
# Public names of the facet fields (`category` rather than the document's `categories`).
FACET_NAMES = {document: public for public, document in FILTER_FIELDS.items() if document in FACET_FIELDS}


class SearchHitOut(BaseModel):
    type: str = Field(description="solution, case_study, vendor or guideline")
    id: int
    title: str
    summary: str
    url: str
    score: float
    language: str = Field(
        default="",
        description="The language of title and summary: the asker's (?lang=, Accept-Language) where the item has "
        "a translation into it, else the original's",
    )
    highlights: dict[str, str] = Field(description="Matched fields as snippets, matches in <mark>...</mark>")
    year: int | None
    categories: list[str]
    countries: list[str]
    kpis: list[str]


class SearchOut(BaseModel):
    query: str
    total: int
    page: int
    per_page: int
    hits: list[SearchHitOut]
    facets: dict[str, dict[str, int]] = Field(description="Exact counts per value, with all filters applied")
    processing_ms: float


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    types: tuple[str, ...] = ()
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    facets: tuple[str, ...] = ("type", "category")
    sort: str | None = None
    page: int = 1
    per_page: int = 20
    wanted: tuple[str, ...] = ()  # the asker's languages, most preferred first


def _query(params: SearchParams) -> SearchQuery:
    filters: dict[str, list[str | int]] = {}
    for name, values in params.filters.items():
        if name not in FILTER_FIELDS:
            raise InvalidInput(f"Unknown filter {name!r}; filters are {', '.join(sorted(FILTER_FIELDS))}.")
        if name == "kpi":
            values = tuple(slugify_code(v) for v in values)  # the official code works as well as the slug
        if values:
            filters[FILTER_FIELDS[name]] = [int(v) if name in ("sdg", "year") and v.isdigit() else v for v in values]
    facets = []
    for name in params.facets:
        document_field = FILTER_FIELDS.get(name)
        if document_field not in FACET_FIELDS:
            raise InvalidInput(
                f"Invalid query parameter facets: {name!r} cannot be faceted; "
                f"choose from {', '.join(sorted(FACET_NAMES.values()))}.",
                errors=[{"field": "query.facets", "message": f"unknown facet {name!r}", "type": "facet"}],
            )
        facets.append(document_field)
    sort: list[tuple[str, Any]] = []
    if params.sort:
        match = re.fullmatch(r"(\w+)(?::(asc|desc))?", params.sort)
        if not match or match.group(1) not in SORTABLE:
            raise InvalidInput(
                f"Invalid query parameter sort: {params.sort!r}; use year or title, optionally :asc or :desc.",
                errors=[{"field": "query.sort", "message": "unknown sort", "type": "sort"}],
            )
        sort.append((match.group(1), match.group(2) or "asc"))
    return SearchQuery(
        q=params.q, filters=filters, facets=facets, sort=sort, page=params.page, per_page=params.per_page
    )


def search_catalogue(engine: SearchEngine, params: SearchParams) -> SearchOut:
    for doc_type in params.types:
        if doc_type not in INDEX_OF_TYPE:
            raise InvalidInput(
                f"Invalid query parameter type: {doc_type!r}; types are {', '.join(sorted(INDEX_OF_TYPE))}.",
                errors=[{"field": "query.type", "message": f"unknown type {doc_type!r}", "type": "enum"}],
            )
    indexes = [INDEX_OF_TYPE[t] for t in (params.types or tuple(INDEX_OF_TYPE))]
    query = _query(params)
    try:
        result = engine.search(indexes[0], query) if len(indexes) == 1 else engine.multi_search(indexes, query)
    except InvalidQuery as exc:
        field_name = FACET_NAMES.get(exc.field or "", exc.field or "q")
        raise InvalidInput(
            f"Invalid query parameter {field_name}: {exc}",
            errors=[{"field": f"query.{field_name}", "message": str(exc), "type": "search"}],
        ) from exc
    except (SearchUnavailable, IndexNotFound) as exc:  # an index not built yet is an outage, not a bug
        raise ServiceUnavailable(
            "Search is temporarily unavailable; your data is safe and will be searchable once the search "
            "engine is back. Retry in a moment.",
            headers={"Retry-After": "5"},
        ) from exc
    return _out(params.q, result, params.wanted)


def _in_language(doc: dict[str, Any], wanted: tuple[str, ...]) -> tuple[str, str, str]:
    """Title, summary and their language: the asker's where the document carries a translation into it (the
    same lookup as the item's own read, docs/architecture.md "Languages"), else the original's."""
    original = str(doc.get("original_language") or "")
    title = str(doc.get("title", ""))
    summary = str(doc.get("summary") or doc.get("description") or "")
    translations = doc.get("translations") or {}
    if wanted and isinstance(translations, dict) and translations:
        chosen = negotiate(wanted, [original, *translations] if original else list(translations))
        text = translations.get(chosen) if chosen is not None else None
        if isinstance(text, dict) and text.get("title"):
            return str(text["title"]), str(text.get("summary") or summary), str(chosen)
    return title, summary, original


def _out(q: str, result: SearchResult, wanted: tuple[str, ...] = ()) -> SearchOut:
    hits = []
    for hit in result.hits:
        doc = hit.document
        object_id = object_id_of(hit.id)
        doc_type = str(doc.get("type", DOC_TYPES.get(hit.index, hit.index)))
        title, summary, language = _in_language(doc, wanted)
        hits.append(
            SearchHitOut(
                type=doc_type,
                id=object_id,
                title=title,
                summary=summary[:300],
                language=language,
                url=PATHS[doc_type].format(id=object_id),
                score=round(hit.score, 6),
                highlights=hit.highlights,
                year=doc.get("year"),
                categories=list(doc.get("categories", [])),
                countries=list(doc.get("countries", [])),
                kpis=list(doc.get("kpis", [])),
            )
        )
    facets = {FACET_NAMES.get(name, name): counts for name, counts in result.facets.items()}
    return SearchOut(
        query=q,
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        hits=hits,
        facets=facets,
        processing_ms=round(result.processing_ms, 2),
    )
