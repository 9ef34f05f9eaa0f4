"""The engine interface, its query and result types, and the behaviour both engines share.

Semantics (both engines, checked by tests/search/test_conformance.py):

* Text: the query is plain words (no operators; quotes and a leading `-` are ignored). Matching
  follows Meilisearch's `last` strategy: a document must match the first word; documents matching
  a longer leading run of the query words rank first. Then fewer typos, then (Meilisearch only)
  word proximity, then the earliest searchable field, then exact words (not typo, prefix or
  synonym); remaining ties may order differently per engine. Typos: words of 5-8 characters allow 1,
  9+ allow 2, shorter words none; a transposition is one typo; a typo on the first letter costs
  two. The last word also matches as a prefix unless the query ends with a space.
* Filters: OR within one field, AND across fields. String values match case-insensitively; a
  number also matches its string form (`3` finds `"3"` and `3`). An empty value list is ignored.
* Facets: counted over the whole result set with *all* filters applied, including the filter on
  the faceted field itself (Meilisearch's `facetDistribution`; not "disjunctive" counts). Values
  are returned as strings; counts are exact up to `max_values_per_facet` distinct values.
* Sort: an explicit sort orders the whole result set (numbers before strings, missing values
  last); relevance only breaks ties. No sort means relevance.
* Paging: `page` is 1-based; `total` is exact.
* Highlights: only fields that matched; HTML-escaped text in which matched words are wrapped in
  `<mark>...</mark>`, cropped to a window of words around the best match with `...` marks.
"""

from __future__ import annotations

import heapq
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from search.definitions import IndexDefinition
from search.errors import InvalidDocument, InvalidQuery

SortDirection = Literal["asc", "desc"]
FilterValue = str | int

MAX_PER_PAGE = 1000
MAX_QUERY_CHARS = 1000
MAX_FILTER_VALUE_CHARS = 500
# multi_search fetches page * per_page hits from every index; keep that bounded.
MAX_MULTI_SEARCH_WINDOW = 10_000
# Meilisearch's rule for document ids; tantivy is held to it so both engines accept the same documents.
DOC_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,511}$")


@dataclass(frozen=True)
class SearchQuery:
    """One search. `filters`: OR within a field, AND across fields. Empty `sort`: relevance."""

    q: str = ""
    filters: Mapping[str, Sequence[FilterValue]] = field(default_factory=dict)
    facets: Sequence[str] = ()
    sort: Sequence[tuple[str, SortDirection]] = ()
    page: int = 1
    per_page: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class Hit:
    """One result. `score` is relevance in [0, 1] (1 for an empty query); `index` labels the type."""

    id: str
    index: str
    score: float
    document: dict[str, Any]
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    processing_ms: float = 0.0

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.per_page else 0


class SearchEngine(ABC):
    """A full-text engine. Writes return only once applied; reads never see half a rebuild."""

    kind: str = "abstract"

    @abstractmethod
    def ensure_index(self, defn: IndexDefinition) -> None:
        """Create the index or update its settings (reindexing if needed). Idempotent."""

    @abstractmethod
    def definition(self, index: str) -> IndexDefinition:
        """The definition in force for `index` (raises IndexNotFound)."""

    @abstractmethod
    def upsert(self, index: str, docs: Iterable[Mapping[str, Any]]) -> None:
        """Add or replace documents by primary key; returns once the engine applied them."""

    @abstractmethod
    def delete(self, index: str, ids: Iterable[str]) -> None:
        """Delete documents by id (unknown ids are ignored); returns once applied."""

    @abstractmethod
    def search(self, index: str, query: SearchQuery) -> SearchResult: ...

    @abstractmethod
    def count(self, index: str) -> int: ...

    @abstractmethod
    def ids(self, index: str) -> set[str]:
        """Every document id, for consistency checks against the database."""

    @abstractmethod
    def rebuild(self, defn: IndexDefinition, docs: Iterable[Mapping[str, Any]]) -> int:
        """Replace the whole index with `docs`, switching atomically; returns the count indexed."""

    @abstractmethod
    def clear(self, index: str) -> None: ...

    @abstractmethod
    def healthy(self) -> bool:
        """True when the engine answers; never raises."""

    def close(self) -> None:  # noqa: B027 - optional hook, engines without resources skip it
        """Release resources (open indexes, HTTP sessions)."""

    def multi_search(self, indexes: Sequence[str], query: SearchQuery) -> SearchResult:
        """One search over several indexes, merged into one ranked, paged list.

        Each hit carries its `index`. Ranking across indexes: with an explicit sort, by the sort
        values; otherwise by the normalised relevance score (`Hit.score`), ties going to the index
        listed first. Each index's own order is kept (a k-way merge). `total` and facet counts are
        sums over the indexes; filters, facets and sort must be valid for every index.
        """
        started = time.perf_counter()
        if not indexes:
            raise InvalidQuery("multi_search needs at least one index", field="indexes")
        for name in indexes:
            validate_query(self.definition(name), query)
        window = query.page * query.per_page
        if window > MAX_MULTI_SEARCH_WINDOW:
            raise InvalidQuery(
                f"page * per_page must be at most {MAX_MULTI_SEARCH_WINDOW} in multi_search", field="page"
            )
        sub_query = replace(query, page=1, per_page=window)
        results = [self.search(name, sub_query) for name in indexes]

        def keyed(pos: int, result: SearchResult) -> Iterator[tuple[tuple[Any, ...], Hit]]:
            for hit in result.hits:
                if query.sort:
                    key = tuple(sort_key(hit.document.get(f), d) for f, d in query.sort)
                    yield (*key, pos), hit
                else:
                    yield (-hit.score, pos), hit

        merged = heapq.merge(*(keyed(i, r) for i, r in enumerate(results)), key=lambda kv: kv[0])
        hits = [hit for _, hit in merged][query.offset : window]
        facets: dict[str, dict[str, int]] = {}
        for result in results:
            for fname, counts in result.facets.items():
                target = facets.setdefault(fname, {})
                for value, n in counts.items():
                    target[value] = target.get(value, 0) + n
        return SearchResult(
            hits=hits,
            total=sum(r.total for r in results),
            page=query.page,
            per_page=query.per_page,
            facets={f: dict(sorted(c.items())) for f, c in facets.items()},
            processing_ms=(time.perf_counter() - started) * 1000,
        )


class _Desc:
    """Wraps a string so that it sorts in reverse (for descending string sorts)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def sort_key(value: Any, direction: SortDirection) -> tuple[int, Any]:
    """Meilisearch's sort order: numbers, then strings (case-insensitive), then missing values."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, int | float) and math.isfinite(value):
        return (0, value if direction == "asc" else -value)
    if isinstance(value, str):
        folded = value.lower()
        return (1, folded if direction == "asc" else _Desc(folded))
    return (2, 0)


def validate_query(defn: IndexDefinition, query: SearchQuery) -> None:
    """Reject what neither engine can answer, naming the field (raises InvalidQuery)."""
    if not isinstance(query.q, str):
        raise InvalidQuery("q must be a string", field="q")
    if len(query.q) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"q is longer than {MAX_QUERY_CHARS} characters", field="q")
    if isinstance(query.page, bool) or not isinstance(query.page, int) or query.page < 1:
        raise InvalidQuery("page must be an integer >= 1", field="page")
    if (
        isinstance(query.per_page, bool)
        or not isinstance(query.per_page, int)
        or not 1 <= query.per_page <= MAX_PER_PAGE
    ):
        raise InvalidQuery(f"per_page must be an integer in 1..{MAX_PER_PAGE}", field="per_page")
    for fname, values in query.filters.items():
        if fname not in defn.filterable:
            raise InvalidQuery(
                f"field {fname!r} is not filterable in index {defn.name!r}; "
                f"filterable: {', '.join(defn.filterable) or 'none'}",
                field=fname,
            )
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise InvalidQuery(f"filter values for {fname!r} must be a list", field=fname)
        for value in values:
            if isinstance(value, str):
                if len(value) > MAX_FILTER_VALUE_CHARS:
                    raise InvalidQuery(f"filter value for {fname!r} is too long", field=fname)
            elif not isinstance(value, int):  # bool is an int: True/False filter "true"/"false"
                raise InvalidQuery(f"filter value {value!r} for {fname!r} must be a string or an integer", field=fname)
    for fname in query.facets:
        if fname not in defn.facets:
            raise InvalidQuery(
                f"field {fname!r} is not a facet of index {defn.name!r}; facets: {', '.join(defn.facets) or 'none'}",
                field=fname,
            )
    for item in query.sort:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InvalidQuery("sort entries must be (field, 'asc'|'desc') pairs", field="sort")
        fname, direction = item
        if fname not in defn.sortable:
            raise InvalidQuery(
                f"field {fname!r} is not sortable in index {defn.name!r}; "
                f"sortable: {', '.join(defn.sortable) or 'none'}",
                field=fname,
            )
        if direction not in ("asc", "desc"):
            raise InvalidQuery(f"sort direction for {fname!r} must be 'asc' or 'desc'", field=fname)


def filter_value_text(value: FilterValue) -> str:
    """The string form a filter value matches (booleans as Meilisearch spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def document_id(defn: IndexDefinition, doc: Mapping[str, Any]) -> str:
    """The document's id as a string, checked against Meilisearch's id rule (raises InvalidDocument)."""
    raw = doc.get(defn.primary_key)
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise InvalidDocument(f"document has no valid {defn.primary_key!r} (a string or an integer)")
    doc_id = str(raw)
    if not DOC_ID_RE.match(doc_id):
        raise InvalidDocument(
            f"document id {doc_id!r} must match [A-Za-z0-9_-] (at most 511 characters)", doc_id=doc_id
        )
    return doc_id
