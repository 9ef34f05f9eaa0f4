"""Meilisearch engine through the official `meilisearch` client.

Settings go on before documents (a settings change reindexes everything), writes wait for their task
(bounded by `write_timeout_s`; this runs in the background indexer, never on the request path),
searches use `page`/`hitsPerPage` so totals and facet counts are exact, and a rebuild fills a fresh
index and swaps it in with `swap_indexes`.

The client's HTTP layer mutates shared headers per request, so each thread gets its own client.
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import meilisearch
import requests
from meilisearch.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchError,
    MeilisearchTimeoutError,
)

from search.definitions import IndexDefinition
from search.engine import (
    FilterValue,
    Hit,
    SearchEngine,
    SearchQuery,
    SearchResult,
    document_id,
    filter_value_text,
    validate_query,
)
from search.errors import IndexNotFound, InvalidDocument, InvalidQuery, SearchError, SearchUnavailable
from search.languages import language_of_locale, locales_for_query, meilisearch_locale
from search.text import CROP_MARKER, join_snippets
from search.typo import ONE_TYPO_MIN_CHARS, TWO_TYPOS_MIN_CHARS

# Private-use characters as highlight tags: the text is HTML-escaped first, then they become <mark>.
_PRE, _POST = "\ue000", "\ue001"
# Explicit sort first: a sorted list is sorted; relevance only breaks ties (matches tantivy).
RANKING_RULES = ["sort", "words", "typo", "proximity", "attribute", "exactness"]
_INTERNAL_KEYS = ("_formatted", "_rankingScore", "_rankingScoreDetails", "_matchesPosition")
T = TypeVar("T")
_IN_FLIGHT = 4  # queued document batches per write; Meilisearch merges consecutive ones
_QUERY_SYNTAX = re.compile(r'"|(?:(?<=\s)|^)-+')


def plain_query(q: str) -> str:
    """Drop Meilisearch's query syntax (phrases, negation) so both engines read plain words."""
    return _QUERY_SYNTAX.sub(" ", q) if ('"' in q or "-" in q) else q


def filter_literal(value: FilterValue) -> str:
    """A value in Meilisearch filter syntax: integers bare (they match numbers and strings), text quoted."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = filter_value_text(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_expression(filters: Mapping[str, Sequence[FilterValue]]) -> list[list[str]]:
    """Meilisearch's array form: inner lists are OR, the outer list is AND."""
    return [[f"{name} = {filter_literal(v)}" for v in values] for name, values in filters.items() if values]


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _formatted_text(value: Any) -> str | None:
    if isinstance(value, str):
        if _PRE not in value:
            return None
        return html.escape(value, quote=False).replace(_PRE, "<mark>").replace(_POST, "</mark>")
    if isinstance(value, list):
        return join_snippets(_formatted_text(v) for v in value)
    return None


def _differs(want: Any, have: Any) -> bool:
    """Compare only what we set: the server adds keys of its own to nested settings."""
    if isinstance(want, dict):
        return not isinstance(have, dict) or any(_differs(v, have.get(k)) for k, v in want.items())
    return bool(want != have)


def _localized_attributes(defn: IndexDefinition) -> list[dict[str, list[str]]] | None:
    """One rule per language field whose language Meilisearch segments and normalises (search/languages.py);
    None (the server's default) when there is none, so that an index without languages compares unchanged."""
    rules = [
        {"attributePatterns": [name], "locales": [locale]}
        for name, tag in defn.languages.items()
        if (locale := meilisearch_locale(tag)) is not None
    ]
    return rules or None


def _query_locales(defn: IndexDefinition, q: str) -> list[str]:
    rules = _localized_attributes(defn) or []
    return locales_for_query(q, list(dict.fromkeys(rule["locales"][0] for rule in rules)))


def _languages_of(rules: Any, searchable: Sequence[str]) -> dict[str, str]:
    """The definition's languages back from the rules above (another process made the index)."""
    found: dict[str, str] = {}
    for rule in rules or []:
        tags = [language_of_locale(locale) for locale in rule.get("locales", [])]
        for name in rule.get("attributePatterns", []):
            if name in searchable and tags and tags[0]:
                found[name] = tags[0]
    return found


class MeilisearchEngine(SearchEngine):
    kind = "meilisearch"

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        index_prefix: str = "",
        request_timeout_s: float = 10.0,
        write_timeout_s: float = 60.0,
        rebuild_timeout_s: float = 1800.0,
        batch_size: int = 5000,
        crop_words: int = 24,
        max_values_per_facet: int = 1000,
        max_total_hits: int = 1_000_000,
    ) -> None:
        if index_prefix and not re.match(r"^[A-Za-z0-9_-]+$", index_prefix):
            raise ValueError("index_prefix may only contain [A-Za-z0-9_-]")
        self._url = url.rstrip("/")
        self._api_key = api_key
        self._prefix = index_prefix
        self._request_timeout = request_timeout_s
        self._write_timeout_ms = int(write_timeout_s * 1000)
        self._rebuild_timeout_ms = int(rebuild_timeout_s * 1000)
        self._batch_size = batch_size
        self._crop_words = crop_words
        self._max_values = max_values_per_facet
        self._max_total_hits = max_total_hits
        self._local = threading.local()
        self._defs: dict[str, IndexDefinition] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()

    # ----------------------------------------------------------------- plumbing

    @property
    def _client(self) -> meilisearch.Client:
        client: meilisearch.Client | None = getattr(self._local, "client", None)
        if client is None:
            # The client takes an int timeout; requests accepts a float at run time.
            client = meilisearch.Client(self._url, self._api_key, timeout=self._request_timeout)  # type: ignore[arg-type]
            self._local.client = client
        return client

    def _uid(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def _lock(self, name: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(name, threading.RLock())

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except SearchError:
            raise
        except MeilisearchApiError as exc:
            code = exc.code or ""
            if code == "index_not_found":
                raise IndexNotFound(f"meilisearch: {what}: {exc.message}") from exc
            if code.startswith(("invalid_search", "invalid_facet")):
                raise InvalidQuery(f"meilisearch: {what}: {exc.message}") from exc
            if code.startswith("invalid_document") or code in ("missing_document_id", "bad_request"):
                raise InvalidDocument(f"meilisearch: {what}: {exc.message}") from exc
            if exc.status_code >= 500 or exc.status_code in (401, 403, 408, 429):
                raise SearchUnavailable(f"meilisearch: {what}: {exc.message}") from exc
            raise SearchError(f"meilisearch: {what}: {exc.message}") from exc
        except (MeilisearchCommunicationError, MeilisearchTimeoutError, requests.RequestException) as exc:
            raise SearchUnavailable(f"meilisearch: {what}: {exc}") from exc
        except MeilisearchError as exc:
            raise SearchUnavailable(f"meilisearch: {what}: {exc}") from exc

    def _wait(self, task_uid: int, what: str, timeout_ms: int | None = None) -> None:
        """Block until the task is applied; failures and timeouts raise."""
        try:
            task = self._client.wait_for_task(
                task_uid, timeout_in_ms=timeout_ms or self._write_timeout_ms, interval_in_ms=20
            )
        except MeilisearchTimeoutError as exc:
            raise SearchUnavailable(f"meilisearch: {what}: task {task_uid} not applied in time") from exc
        if task.status == "succeeded":
            return
        error = task.error or {}
        code = str(error.get("code", ""))
        message = f"meilisearch: {what}: task {task_uid} {task.status}: {error.get('message', '')}"
        if code.startswith("invalid_document") or code == "missing_document_id":
            raise InvalidDocument(message)
        if code == "index_not_found":
            raise IndexNotFound(message)
        raise SearchUnavailable(message)

    # ----------------------------------------------------------------- settings

    def _settings(self, defn: IndexDefinition) -> dict[str, Any]:
        return {
            "searchableAttributes": list(defn.searchable),
            "displayedAttributes": ["*"],
            "filterableAttributes": list(defn.filterable),
            "sortableAttributes": list(defn.sortable),
            "rankingRules": RANKING_RULES,
            "synonyms": {k: list(v) for k, v in defn.synonyms.items()},
            "stopWords": [],
            "distinctAttribute": None,
            "typoTolerance": {
                "enabled": True,
                "minWordSizeForTypos": {"oneTypo": ONE_TYPO_MIN_CHARS, "twoTypos": TWO_TYPOS_MIN_CHARS},
                "disableOnWords": [],
                "disableOnAttributes": [],
            },
            "pagination": {"maxTotalHits": self._max_total_hits},
            "faceting": {"maxValuesPerFacet": self._max_values},
            "localizedAttributes": _localized_attributes(defn),
        }

    @staticmethod
    def _settings_diff(desired: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
        """Only the settings that differ: an unchanged setting must not trigger a reindex."""
        patch: dict[str, Any] = {}
        for key, want in desired.items():
            have = current.get(key)
            if key in ("filterableAttributes", "sortableAttributes"):
                differs = sorted(map(str, want)) != sorted(map(str, have or []))
            elif key == "synonyms":
                differs = {k: sorted(v) for k, v in want.items()} != {k: sorted(v) for k, v in (have or {}).items()}
            else:
                differs = _differs(want, have)
            if differs:
                patch[key] = want
        return patch

    def _apply_settings(self, uid: str, defn: IndexDefinition, timeout_ms: int) -> None:
        index = self._client.index(uid)
        patch = self._settings_diff(self._settings(defn), index.get_settings())
        if patch:
            self._wait(index.update_settings(patch).task_uid, f"settings of {uid}", timeout_ms)

    def _create(self, uid: str, primary_key: str) -> bool:
        """Create the index if missing; True if it was created."""
        try:
            self._client.get_index(uid)
            return False
        except MeilisearchApiError as exc:
            if exc.code != "index_not_found":
                raise
        self._wait(self._client.create_index(uid, {"primaryKey": primary_key}).task_uid, f"create {uid}")
        return True

    def ensure_index(self, defn: IndexDefinition) -> None:
        uid = self._uid(defn.name)
        with self._lock(defn.name), self._errors(f"ensure_index {uid}"):
            self._create(uid, defn.primary_key)
            self._apply_settings(uid, defn, self._rebuild_timeout_ms)
        self._defs[defn.name] = defn

    def definition(self, index: str) -> IndexDefinition:
        known = self._defs.get(index)
        if known is not None:
            return known
        # Another process created the index: rebuild the definition from the live settings.
        uid = self._uid(index)
        with self._errors(f"reading settings of {uid}"):
            info = self._client.get_index(uid)
            settings = info.get_settings()
        searchable = [s for s in settings.get("searchableAttributes", []) if s != "*"]
        filterable = [f for f in settings.get("filterableAttributes", []) if isinstance(f, str)]
        defn = IndexDefinition(
            name=index,
            primary_key=info.primary_key or "id",
            searchable=searchable,
            filterable=filterable,
            facets=filterable,
            sortable=settings.get("sortableAttributes", []),
            synonyms=settings.get("synonyms", {}),
            highlight=searchable,
            languages=_languages_of(settings.get("localizedAttributes"), searchable),
        )
        self._defs[index] = defn
        return defn

    # ----------------------------------------------------------------- writes

    def _enqueue(self, uid: str, defn: IndexDefinition, docs: Sequence[Mapping[str, Any]]) -> int:
        for doc in docs:
            document_id(defn, doc)
        try:
            return int(self._client.index(uid).add_documents(list(docs), primary_key=defn.primary_key).task_uid)
        except (TypeError, ValueError) as exc:  # not JSON-serialisable
            raise InvalidDocument(f"documents for {uid} are not JSON: {exc}") from exc

    def _add_all(self, uid: str, defn: IndexDefinition, docs: Iterable[Mapping[str, Any]], timeout_ms: int) -> int:
        """Send `docs` in batches, keeping a few tasks queued so Meilisearch can merge them."""
        pending: deque[int] = deque()
        sent = 0
        for batch in _chunks(docs, self._batch_size):
            pending.append(self._enqueue(uid, defn, batch))
            sent += len(batch)
            if len(pending) >= _IN_FLIGHT:
                self._wait(pending.popleft(), f"adding documents to {uid}", timeout_ms)
        while pending:
            self._wait(pending.popleft(), f"adding documents to {uid}", timeout_ms)
        return sent

    def upsert(self, index: str, docs: Iterable[Mapping[str, Any]]) -> None:
        defn = self.definition(index)
        batch = list(docs)
        for doc in batch:
            document_id(defn, doc)  # all or nothing: reject before sending any
        uid = self._uid(index)
        with self._lock(index), self._errors(f"upsert into {uid}"):
            self._add_all(uid, defn, batch, self._write_timeout_ms)

    def delete(self, index: str, ids: Iterable[str]) -> None:
        id_list = [str(i) for i in ids]
        if not id_list:
            return
        uid = self._uid(index)
        with self._lock(index), self._errors(f"deleting documents of {uid}"):
            for start in range(0, len(id_list), self._batch_size):
                # POST /documents/delete-batch is the server's delete-by-id route; the client wraps it
                # in a deprecated `ids=` form (its alternative, delete by filter, needs the id filterable).
                response = self._client.http.post(
                    f"indexes/{uid}/documents/delete-batch", id_list[start : start + self._batch_size]
                )
                self._wait(int(response["taskUid"]), f"deleting documents of {uid}")

    def clear(self, index: str) -> None:
        uid = self._uid(index)
        with self._lock(index), self._errors(f"clear {uid}"):
            self._wait(self._client.index(uid).delete_all_documents().task_uid, f"clear {uid}")

    def rebuild(self, defn: IndexDefinition, docs: Iterable[Mapping[str, Any]]) -> int:
        uid = self._uid(defn.name)
        tmp = f"{uid}__rebuild_{secrets.token_hex(4)}"
        with self._lock(defn.name), self._errors(f"rebuild {uid}"):
            try:
                self._create(tmp, defn.primary_key)
                self._apply_settings(tmp, defn, self._rebuild_timeout_ms)  # before any document
                self._add_all(tmp, defn, docs, self._rebuild_timeout_ms)
                self._create(uid, defn.primary_key)
                swap = self._client.swap_indexes([{"indexes": [uid, tmp]}])
                self._wait(swap.task_uid, f"swap {uid}", self._rebuild_timeout_ms)
            finally:
                # After the swap `tmp` holds the old documents; on failure, the partial new ones.
                with suppress(SearchError, MeilisearchError, requests.RequestException):
                    self._wait(self._client.delete_index(tmp).task_uid, f"drop {tmp}")
        self._defs[defn.name] = defn
        with self._errors(f"count {uid}"):
            return int(self._client.index(uid).get_stats().number_of_documents)

    # ----------------------------------------------------------------- reads

    def count(self, index: str) -> int:
        uid = self._uid(index)
        with self._errors(f"count {uid}"):
            return int(self._client.index(uid).get_stats().number_of_documents)

    def ids(self, index: str) -> set[str]:
        defn = self.definition(index)
        uid = self._uid(index)
        out: set[str] = set()
        with self._errors(f"ids of {uid}"):
            offset = 0
            while True:
                page = self._client.index(uid).get_documents(
                    {"fields": [defn.primary_key], "limit": 1000, "offset": offset}
                )
                for doc in page.results:
                    out.add(str(dict(doc)[defn.primary_key]))
                offset += len(page.results)
                if not page.results or offset >= page.total:
                    return out

    def healthy(self) -> bool:
        try:
            return bool(self._client.health().get("status") == "available")
        except (MeilisearchError, requests.RequestException, OSError):
            return False

    def search(self, index: str, query: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        defn = self.definition(index)
        validate_query(defn, query)
        params: dict[str, Any] = {
            "page": query.page,
            "hitsPerPage": query.per_page,
            "matchingStrategy": "last",
            "showRankingScore": True,
        }
        q = plain_query(query.q)
        if q.strip() and defn.highlight:
            params.update(
                attributesToHighlight=list(defn.highlight),
                attributesToCrop=list(defn.highlight),
                cropLength=self._crop_words,
                cropMarker=CROP_MARKER,
                highlightPreTag=_PRE,
                highlightPostTag=_POST,
            )
        if defn.languages and q.strip() and (locales := _query_locales(defn, q)):
            params["locales"] = locales
        if expression := filter_expression(query.filters):
            params["filter"] = expression
        if query.facets:
            params["facets"] = list(query.facets)
        if query.sort:
            params["sort"] = [f"{name}:{direction}" for name, direction in query.sort]
        uid = self._uid(index)
        with self._errors(f"search {uid}"):
            response = self._client.index(uid).search(q, params)
        hits = []
        for raw in response.get("hits", []):
            formatted = raw.get("_formatted") or {}
            document = {k: v for k, v in raw.items() if k not in _INTERNAL_KEYS}
            highlights = {}
            for fname in defn.highlight:
                text = _formatted_text(formatted.get(fname))
                if text:
                    highlights[fname] = text
            hits.append(
                Hit(
                    id=str(document.get(defn.primary_key, "")),
                    index=index,
                    score=float(raw.get("_rankingScore", 1.0)),
                    document=document,
                    highlights=highlights,
                )
            )
        distribution = response.get("facetDistribution") or {}
        facets = {
            name: dict(sorted((str(k), int(v)) for k, v in (distribution.get(name) or {}).items()))
            for name in query.facets
        }
        return SearchResult(
            hits=hits,
            total=int(response.get("totalHits", 0)),
            page=query.page,
            per_page=query.per_page,
            facets=facets,
            processing_ms=(time.perf_counter() - started) * 1000,
        )

    def drop(self, index: str) -> None:
        """Delete the whole index (tests and tear-down)."""
        uid = self._uid(index)
        with self._lock(index), self._errors(f"drop {uid}"), suppress(IndexNotFound):
            self._wait(self._client.delete_index(uid).task_uid, f"drop {uid}")
        self._defs.pop(index, None)
