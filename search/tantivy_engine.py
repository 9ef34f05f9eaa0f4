"""Embedded engine on tantivy (PyPI `tantivy`), matching Meilisearch's behaviour (see engine.py).

Layout: `<data_dir>/<index>/CURRENT` names the live generation directory `gen-*` beside it. A
rebuild (or a schema change) writes a new generation and switches `CURRENT` with an atomic rename,
so readers see the old index or the new one, never a half-built one.

Ranking is encoded in the score: each query word contributes a constant that says which field it
matched and with how many typos, and the query is a max over "the first k words all match" for
k = 1..n. The maximum therefore orders by Meilisearch's `words` rule (the longest matched leading
run of words), then `typo` (fewest typos), then `attribute` (earliest fields). Scores are small
integers, so f32 sums are exact. Meilisearch's `proximity` and `exactness` rules are not modelled.

Concurrency: one writer at a time per index (a lock here, tantivy's lock file across processes);
readers reload after every commit, and notice commits or switches made by other processes by the
modification time of `meta.json` and `CURRENT`.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy

from search.definitions import IndexDefinition
from search.engine import (
    FilterValue,
    Hit,
    SearchEngine,
    SearchQuery,
    SearchResult,
    document_id,
    filter_value_text,
    sort_key,
    validate_query,
)
from search.errors import IndexNotFound, InvalidDocument, SearchError, SearchUnavailable
from search.languages import stemmer_of
from search.text import (
    Matcher,
    analyze,
    build_text_analyzer,
    cached_synonym_table,
    join_snippets,
    query_words,
    snippet,
    stem,
    synonym_alternatives,
    tokenizer_name,
)
from search.typo import Vocabulary, max_typos

_ID = "_id"
_SOURCE = "_source"
_CURRENT = "CURRENT"
_META = "citymarket.json"
_FORMAT = 1
_FILTER_TOKENIZER = "cm_filter"  # whole value, lower-cased: filters ignore case like Meilisearch
_SORT_TOKENIZER = "cm_sort"
# A write of at most this many documents is searchable before the full vocabulary rebuild (see `_write`); larger
# batches (reindexing, bulk imports) would spend more analysing their words than the rebuild costs.
_EXTEND_VOCAB_MAX_DOCS = 50

# Score layout (see module docstring): word > typo > attribute > exactness; each level's weight
# exceeds the largest sum of all lower levels over 10 words, so the levels never mix.
# 31 ranks: the catalogue's indexes have a field per language after the original's fields.
# The largest score, 10 * (_W_WORD + 2 * _W_TYPO + ...), stays below 2**24, so f32 sums are exact.
_ATTR_MAX = 31
_W_EXACT = 1  # the word itself, not a typo, prefix or synonym: Meilisearch's `exactness`
_W_ATTR = 16  # > 10 * _W_EXACT
_W_TYPO = 8192  # > 10 * (_ATTR_MAX * _W_ATTR + _W_EXACT)
_W_WORD = 262144  # > 10 * (2 * _W_TYPO + _ATTR_MAX * _W_ATTR + _W_EXACT)


def _searchable(name: str) -> str:
    return f"s__{name}"


def _filter_str(name: str) -> str:
    return f"fs__{name}"


def _filter_num(name: str) -> str:
    return f"fn__{name}"


def _sort_str(name: str) -> str:
    return f"ss__{name}"


def _sort_num(name: str) -> str:
    return f"sn__{name}"


def build_schema(defn: IndexDefinition) -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field(_ID, stored=True, fast=True, tokenizer_name="raw")
    sb.add_bytes_field(_SOURCE, stored=True)
    for name in defn.searchable:
        sb.add_text_field(
            _searchable(name), tokenizer_name=tokenizer_name(_stemmer(defn, name)), index_option="position"
        )
    for name in defn.filterable:
        sb.add_text_field(_filter_str(name), tokenizer_name=_FILTER_TOKENIZER, fast=True, index_option="basic")
        sb.add_float_field(_filter_num(name), indexed=True, fast=True)
    for name in defn.sortable:
        sb.add_text_field(_sort_str(name), tokenizer_name=_SORT_TOKENIZER, fast=True, index_option="basic")
        sb.add_float_field(_sort_num(name), fast=True)
    return sb.build()


def _lower_raw() -> tantivy.TextAnalyzer:
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.lowercase()).build()


def _stemmer(defn: IndexDefinition, name: str) -> str | None:
    """The Snowball stemmer of a searchable field's language, if it has one (search/languages.py)."""
    tag = defn.languages.get(name)
    return stemmer_of(tag) if tag else None


def register_tokenizers(index: tantivy.Index, defn: IndexDefinition) -> None:
    """Every analyzer the index's fields were built with: needed by whoever opens the index."""
    for stemmer in {None, *(_stemmer(defn, name) for name in defn.searchable)}:
        index.register_tokenizer(tokenizer_name(stemmer), build_text_analyzer(stemmer))
    index.register_tokenizer(_FILTER_TOKENIZER, _lower_raw())
    # Facet counts report the value as written, so the filter field's column keeps the raw value.
    index.register_fast_field_tokenizer(_FILTER_TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).build())
    index.register_tokenizer(_SORT_TOKENIZER, _lower_raw())
    index.register_fast_field_tokenizer(_SORT_TOKENIZER, _lower_raw())


def _texts(value: Any) -> Iterator[str]:
    """Searchable text of a field value: strings, numbers, and nested lists/objects."""
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _scalars(value: Any) -> Iterator[str | float]:
    """Filter/sort values: scalars and (nested) lists of scalars; objects are not filterable."""
    if value is None:
        return
    if isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, int | float):
        if math.isfinite(value):
            yield float(value)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _scalars(item)


def _number_key(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _stat_sig(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@contextmanager
def _unavailable(what: str) -> Iterator[None]:
    """Map tantivy and file-system failures to SearchUnavailable; keep our own errors as they are."""
    try:
        yield
    except SearchError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise SearchUnavailable(f"tantivy: {what} failed: {exc}") from exc


@dataclass
class _Generation:
    """One opened on-disk index directory."""

    path: Path
    index: tantivy.Index
    defn: IndexDefinition
    meta_sig: tuple[int, int, int]
    vocab: Vocabulary | None = None
    sort_kinds: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    columns: dict[str, bool] = field(default_factory=dict)  # fast column -> holds any value
    # Searchable fields holding any term: an empty one (a language no document has) costs no subquery.
    populated: frozenset[str] = frozenset()
    # The terms of each language field: a query asks such a field only for the terms it has (a term set query
    # per field and typo level cost the typo query of the search bench 40 % more with eleven language fields).
    field_terms: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def schema(self) -> tantivy.Schema:
        return self.index.schema

    def refresh_after_commit(self, added_terms: Iterable[str] | None = None) -> bool:
        """Read the latest commit. With `added_terms` (this process's own small write), the vocabulary is only
        extended by them (True is returned), and the caller rebuilds it in full once the write is searchable."""
        self.index.reload()
        self.meta_sig = _stat_sig(self.path / "meta.json")
        self.sort_kinds = {}
        self.columns = {}
        if added_terms is not None and self.vocab is not None:
            self.vocab = self.vocab.with_terms(added_terms)
            return True
        self.vocab = self.build_vocab()
        return False

    def build_vocab(self) -> Vocabulary:
        """Every searchable field's terms (stems, for a stemmed field: typos count against them)."""
        searcher = self.index.searcher()
        terms: set[str] = set()
        populated: set[str] = set()
        field_terms: dict[str, frozenset[str]] = {}
        for name in self.defn.searchable:
            found = [t for t, _ in searcher.terms_with_prefix(_searchable(name), "")]
            terms.update(found)
            if found:
                populated.add(name)
            if found and name in self.defn.languages:
                field_terms[name] = frozenset(found)
        self.populated, self.field_terms = frozenset(populated), field_terms
        return Vocabulary(terms)


@dataclass
class _State:
    """Per index name: the live generation and the locks around it."""

    name: str
    root: Path
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    read_lock: threading.Lock = field(default_factory=threading.Lock)
    gen: _Generation | None = None
    current_sig: tuple[int, int, int] | None = None


@dataclass
class _Built:
    query: tantivy.Query | None  # None: match everything
    max_score: float
    matcher: Matcher
    impossible: bool = False


class TantivyEngine(SearchEngine):
    kind = "tantivy"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        crop_words: int = 24,
        max_values_per_facet: int = 1000,
        writer_heap_bytes: int = 64_000_000,
        rebuild_heap_bytes: int = 256_000_000,
        rebuild_threads: int = 0,
    ) -> None:
        self._base = Path(data_dir)
        self._crop_words = crop_words
        self._max_values = max_values_per_facet
        self._writer_heap = writer_heap_bytes
        self._rebuild_heap = rebuild_heap_bytes
        self._rebuild_threads = rebuild_threads or min(4, os.cpu_count() or 1)
        self._states: dict[str, _State] = {}
        self._states_lock = threading.Lock()

    # ----------------------------------------------------------------- index lifecycle

    def _state(self, name: str) -> _State:
        with self._states_lock:
            state = self._states.get(name)
            if state is None:
                state = _State(name=name, root=self._base / name)
                self._states[name] = state
            return state

    def _open_generation(self, path: Path, defn: IndexDefinition | None = None) -> _Generation:
        meta = json.loads((path / _META).read_text("utf-8"))
        stored = IndexDefinition.from_json(meta["definition"])
        index = tantivy.Index.open(str(path))
        register_tokenizers(index, stored)
        index.config_reader(reload_policy="manual")
        gen = _Generation(path, index, defn or stored, _stat_sig(path / "meta.json"))
        return gen

    def _live(self, state: _State) -> _Generation:
        """The generation to read from, re-opened if another writer committed or switched."""
        with _unavailable(f"opening index {state.name!r}"):
            current = state.root / _CURRENT
            try:
                sig = _stat_sig(current)
            except FileNotFoundError:
                if state.gen is not None:  # it was there: the directory was removed or unmounted
                    raise SearchUnavailable(f"tantivy: index directory of {state.name!r} is gone") from None
                raise IndexNotFound(f"index {state.name!r} does not exist; call ensure_index") from None
            gen = state.gen
            if gen is not None and sig == state.current_sig:
                meta_sig = _stat_sig(gen.path / "meta.json")
                if meta_sig == gen.meta_sig:
                    return gen
            with state.read_lock:
                gen = state.gen
                if gen is None or sig != state.current_sig:
                    target = state.root / current.read_text("utf-8").strip()
                    gen = self._open_generation(target, gen.defn if gen and gen.path == target else None)
                    state.gen, state.current_sig = gen, sig
                elif _stat_sig(gen.path / "meta.json") != gen.meta_sig:
                    gen.refresh_after_commit()
                return gen

    def _new_generation(
        self, state: _State, defn: IndexDefinition, heap: int, threads: int
    ) -> tuple[Path, tantivy.Index, tantivy.IndexWriter]:
        state.root.mkdir(parents=True, exist_ok=True)
        path = state.root / f"gen-{time.time_ns()}-{secrets.token_hex(3)}"
        path.mkdir()
        index = tantivy.Index(build_schema(defn), path=str(path), reuse=False)
        register_tokenizers(index, defn)
        index.config_reader(reload_policy="manual")
        return path, index, index.writer(heap_size=heap, num_threads=threads)

    def _write_meta(self, path: Path, defn: IndexDefinition) -> None:
        tmp = path / (_META + ".tmp")
        tmp.write_text(json.dumps({"format": _FORMAT, "definition": defn.to_json()}, indent=1), "utf-8")
        os.replace(tmp, path / _META)

    def _switch(self, state: _State, path: Path, index: tantivy.Index, defn: IndexDefinition) -> None:
        """Point CURRENT at `path` atomically, then drop the previous generation."""
        self._write_meta(path, defn)
        tmp = state.root / (_CURRENT + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(path.name)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, state.root / _CURRENT)
        old = state.gen
        gen = _Generation(path, index, defn, _stat_sig(path / "meta.json"))
        gen.refresh_after_commit()
        state.gen, state.current_sig = gen, _stat_sig(state.root / _CURRENT)
        # Searches already running keep their memory-mapped files; new ones use the new generation.
        if old is not None and old.path != path:
            shutil.rmtree(old.path, ignore_errors=True)

    def ensure_index(self, defn: IndexDefinition) -> None:
        state = self._state(defn.name)
        with state.write_lock, _unavailable(f"ensure_index {defn.name!r}"):
            if not (state.root / _CURRENT).exists():
                path, index, writer = self._new_generation(state, defn, self._writer_heap, 1)
                writer.commit()
                writer.wait_merging_threads()
                self._switch(state, path, index, defn)
                return
            gen = self._live(state)
            if gen.defn.schema_fingerprint() != defn.schema_fingerprint():
                # Like a Meilisearch settings change: reindex every stored document.
                self._rebuild_locked(state, defn, self._sources(gen))  # streams from the old generation
            elif gen.defn != defn:
                self._write_meta(gen.path, defn)
                gen.defn = defn

    def definition(self, index: str) -> IndexDefinition:
        return self._live(self._state(index)).defn

    def _sources(self, gen: _Generation) -> Iterator[dict[str, Any]]:
        searcher = gen.index.searcher()
        if searcher.num_docs == 0:
            return
        for _, addr in searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs).hits:
            raw = searcher.doc(addr).get_first(_SOURCE)
            if raw is not None:
                yield json.loads(bytes(raw))

    # ----------------------------------------------------------------- writes

    def _document(self, defn: IndexDefinition, doc: Mapping[str, Any]) -> tuple[str, tantivy.Document]:
        doc_id = document_id(defn, doc)
        try:
            source = json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidDocument(f"document {doc_id!r} is not JSON: {exc}", doc_id=doc_id) from exc
        out = tantivy.Document()
        out.add_text(_ID, doc_id)
        out.add_bytes(_SOURCE, source)
        for name in defn.searchable:
            for text in _texts(doc.get(name)):
                out.add_text(_searchable(name), text)
        for name in defn.filterable:
            seen: set[str | float] = set()
            for value in _scalars(doc.get(name)):
                if value in seen:
                    continue  # facet counts are per document
                seen.add(value)
                if isinstance(value, float):
                    out.add_float(_filter_num(name), value)
                else:
                    out.add_text(_filter_str(name), value)
        for name in defn.sortable:
            first = next(_scalars(doc.get(name)), None)
            if isinstance(first, float):
                out.add_float(_sort_num(name), first)
            elif first is not None:
                out.add_text(_sort_str(name), first)
        return doc_id, out

    def _write(
        self,
        index: str,
        apply: Callable[[tantivy.IndexWriter, _Generation], None],
        added_terms: Iterable[str] | None = None,
    ) -> None:
        """Apply and commit. With `added_terms` (the words a small write brings, possibly incomplete), the write
        is searchable as soon as the vocabulary is extended by them; the full rebuild of the vocabulary (tens of
        milliseconds on 100,000 documents) follows outside the read lock, so searches do not wait for it. Terms
        a delete or update left behind match nothing, so the extended vocabulary finds what the rebuilt one
        does."""
        state = self._state(index)
        with state.write_lock, _unavailable(f"writing to {index!r}"):
            gen = self._live(state)
            writer = gen.index.writer(heap_size=self._writer_heap, num_threads=1)
            try:
                apply(writer, gen)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()
            with state.read_lock:
                extended = gen.refresh_after_commit(added_terms)
                committed = gen.meta_sig
            if extended:
                vocab = gen.build_vocab()
                with state.read_lock:
                    if gen.meta_sig == committed:  # not refreshed since by another process's commit
                        gen.vocab = vocab

    def upsert(self, index: str, docs: Iterable[Mapping[str, Any]]) -> None:
        defn = self.definition(index)
        docs = list(docs)
        prepared = [self._document(defn, doc) for doc in docs]  # validate all before writing any
        if not prepared:
            return

        def apply(writer: tantivy.IndexWriter, gen: _Generation) -> None:
            for doc_id, doc in prepared:
                writer.delete_documents_by_term(_ID, doc_id)  # a later add wins over the delete
                writer.add_document(doc)

        self._write(index, apply, _words(defn, docs) if len(prepared) <= _EXTEND_VOCAB_MAX_DOCS else None)

    def delete(self, index: str, ids: Iterable[str]) -> None:
        id_list = [str(i) for i in ids]
        if not id_list:
            return

        def apply(writer: tantivy.IndexWriter, gen: _Generation) -> None:
            for doc_id in id_list:
                writer.delete_documents_by_term(_ID, doc_id)

        self._write(index, apply, ())

    def clear(self, index: str) -> None:
        self._write(index, lambda writer, gen: writer.delete_all_documents(), ())

    def rebuild(self, defn: IndexDefinition, docs: Iterable[Mapping[str, Any]]) -> int:
        state = self._state(defn.name)
        with state.write_lock, _unavailable(f"rebuilding {defn.name!r}"):
            return self._rebuild_locked(state, defn, docs)

    def _rebuild_locked(self, state: _State, defn: IndexDefinition, docs: Iterable[Mapping[str, Any]]) -> int:
        # Holding the write lock: upserts from this process wait and then land in the new index.
        path, index, writer = self._new_generation(state, defn, self._rebuild_heap, self._rebuild_threads)
        seen: set[str] = set()
        try:
            for doc in docs:
                doc_id, tdoc = self._document(defn, doc)
                if doc_id in seen:
                    writer.delete_documents_by_term(_ID, doc_id)
                seen.add(doc_id)
                writer.add_document(tdoc)
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            try:
                writer.rollback()
                writer.wait_merging_threads()
            finally:
                shutil.rmtree(path, ignore_errors=True)
            raise
        self._switch(state, path, index, defn)
        return len(seen)

    # ----------------------------------------------------------------- reads

    def count(self, index: str) -> int:
        gen = self._live(self._state(index))
        with _unavailable(f"counting {index!r}"):
            return int(gen.index.searcher().num_docs)

    def ids(self, index: str) -> set[str]:
        gen = self._live(self._state(index))
        with _unavailable(f"listing ids of {index!r}"):
            # The filter skips terms left behind by deleted documents.
            terms = gen.index.searcher().terms_with_prefix(_ID, "", filter_query=tantivy.Query.all_query())
            return {t for t, _ in terms}

    def healthy(self) -> bool:
        try:
            if self._base.exists():
                return self._base.is_dir() and os.access(self._base, os.R_OK | os.W_OK | os.X_OK)
            parent = self._base.parent
            return parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)
        except OSError:
            return False

    def search(self, index: str, query: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        gen = self._live(self._state(index))
        defn = gen.defn
        validate_query(defn, query)
        with _unavailable(f"searching {index!r}"):
            searcher = gen.index.searcher()
            if gen.vocab is None:
                with self._state(index).read_lock:
                    if gen.vocab is None:
                        gen.vocab = gen.build_vocab()
            vocab = gen.vocab
            built = self._text_query(gen, defn, vocab, query.q)
            filters = self._filter_query(gen.schema, defn, query.filters)
            if built.impossible:
                empty: dict[str, dict[str, int]] = {name: {} for name in query.facets}
                return SearchResult([], 0, query.page, query.per_page, empty, _ms(started))
            final = _combine(built.query, filters)
            total, ranked = self._ranked(gen, searcher, final, built, query)
            facets = self._facets(gen, searcher, final, query.facets) if query.facets else {}
            hits = []
            for score, addr in ranked:
                raw = searcher.doc(addr).get_first(_SOURCE)
                document: dict[str, Any] = json.loads(bytes(raw)) if raw is not None else {}
                hits.append(
                    Hit(
                        id=str(document.get(defn.primary_key, "")),
                        index=index,
                        score=score,
                        document=document,
                        highlights=self._highlights(defn, document, built.matcher) if query.q else {},
                    )
                )
            return SearchResult(hits, total, query.page, query.per_page, facets, _ms(started))

    # ----------------------------------------------------------------- query building

    def _text_query(self, gen: _Generation, defn: IndexDefinition, vocab: Vocabulary, q: str) -> _Built:
        parsed = query_words(q)
        matcher = Matcher()
        if not parsed.words:
            return _Built(None, 1.0, matcher)
        schema = gen.schema
        # (rank, tantivy field, stemmer, its terms if a language field): the rank is the place in `searchable`,
        # empty fields are left out.
        fields = [
            (rank, _searchable(name), _stemmer(defn, name), gen.field_terms.get(name))
            for rank, name in enumerate(defn.searchable)
            if name in gen.populated
        ]
        alternatives = synonym_alternatives(parsed.words, cached_synonym_table(defn.synonyms))
        n_words = len(parsed.words)
        word_queries: list[tantivy.Query] = []
        stopped = False  # later words are still highlighted, as Meilisearch does
        for pos, word in enumerate(parsed.words):
            prefix = parsed.last_is_prefix and pos == n_words - 1
            candidates = vocab.candidates(word, prefix=prefix)
            # Short last words: let tantivy's automaton expand the prefix instead of a huge term list.
            use_regex = prefix and max_typos(word) == 0 and word.isalnum() and len(candidates) > 64
            by_typo: dict[int, list[str]] = {}
            for term, typos in candidates.items():
                if term != word:  # the word itself is scored apart, as an exact match
                    by_typo.setdefault(typos, []).append(term)
            exact = word in candidates
            subqueries: list[tantivy.Query] = []
            for rank, fname, stemmer, own in fields:
                if own is not None:
                    subqueries.extend(_language_field(schema, fname, stemmer, own, word, candidates, rank))
                else:
                    subqueries.extend(_plain_field(schema, fname, word, exact, use_regex, by_typo, rank))
                for alt in alternatives[pos]:
                    if own is None or _stemmed(stemmer, alt[0]) in own:
                        subqueries.append(_phrase(schema, fname, stemmer, alt, rank))
            if prefix:
                matcher.prefix_word, matcher.prefix = pos, word
                matcher.prefix_terms = set(candidates)
            else:
                for term in candidates:
                    matcher.terms.setdefault(term, pos)
            matcher.phrases.extend((alt, pos) for alt in alternatives[pos])
            if not subqueries:
                stopped = True  # words after an unmatchable one cannot extend the matched run
            if not stopped:
                word_queries.append(tantivy.Query.disjunction_max_query(subqueries))
        max_score = float(n_words * _word_score(0, 0, exact=True))
        if not word_queries:
            return _Built(None, max_score, matcher, impossible=True)
        runs = [word_queries[0]] + [
            tantivy.Query.boolean_query([(tantivy.Occur.Must, w) for w in word_queries[:k]])
            for k in range(2, len(word_queries) + 1)
        ]
        top = runs[0] if len(runs) == 1 else tantivy.Query.disjunction_max_query(runs)
        return _Built(top, max_score, matcher)

    def _filter_query(
        self, schema: tantivy.Schema, defn: IndexDefinition, filters: Mapping[str, Sequence[FilterValue]]
    ) -> tantivy.Query | None:
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for fname, values in filters.items():
            if not values:
                continue  # an empty selection does not constrain
            options: list[tuple[tantivy.Occur, tantivy.Query]] = []
            for value in values:
                text = filter_value_text(value)
                options.append(
                    (tantivy.Occur.Should, tantivy.Query.term_query(schema, _filter_str(fname), text.lower()))
                )
                number = float(value) if isinstance(value, int) and not isinstance(value, bool) else None
                if number is None and isinstance(value, str):
                    number = _as_number(value)
                if number is not None:
                    options.append((tantivy.Occur.Should, tantivy.Query.term_query(schema, _filter_num(fname), number)))
            clauses.append((tantivy.Occur.Must, tantivy.Query.boolean_query(options)))
        if not clauses:
            return None
        return tantivy.Query.boolean_query(clauses)

    # ----------------------------------------------------------------- ranking, facets, highlights

    def _ranked(
        self,
        gen: _Generation,
        searcher: tantivy.Searcher,
        final: tantivy.Query,
        built: _Built,
        query: SearchQuery,
    ) -> tuple[int, list[tuple[float, tantivy.DocAddress]]]:
        def normalise(raw: float) -> float:
            return 1.0 if built.query is None else max(0.0, min(1.0, raw / built.max_score))

        if not query.sort:
            result = searcher.search(final, limit=query.per_page, offset=query.offset, count=True)
            return _count(result), [(normalise(float(s)), a) for s, a in result.hits]
        native = self._native_sort_field(gen, searcher, query.sort) if len(query.sort) == 1 else None
        if native is not None:
            fname, direction = native
            order = tantivy.Order.Asc if direction == "asc" else tantivy.Order.Desc
            result = searcher.search(
                final, limit=query.per_page, offset=query.offset, count=True, order_by_field=fname, order=order
            )
            addrs = [a for _, a in result.hits]
            scores = self._scores_of(gen, built, searcher, addrs)
            return _count(result), [(normalise(sc), a) for sc, a in zip(scores, addrs, strict=True)]
        return self._python_sorted(gen, searcher, final, built, query, normalise)

    def _native_sort_field(
        self, gen: _Generation, searcher: tantivy.Searcher, sort: Sequence[tuple[str, str]]
    ) -> tuple[str, str] | None:
        """tantivy sorts one fast column; usable unless the field holds numbers *and* strings."""
        fname, direction = sort[0]
        kinds = gen.sort_kinds.get(fname)
        if kinds is None:
            has_num = _count(searcher.search(tantivy.Query.exists_query(_sort_num(fname)), limit=1)) > 0
            has_str = _count(searcher.search(tantivy.Query.exists_query(_sort_str(fname)), limit=1)) > 0
            kinds = gen.sort_kinds[fname] = (has_num, has_str)
        has_num, has_str = kinds
        if has_num and has_str:
            return None
        return (_sort_str(fname) if has_str else _sort_num(fname)), direction

    def _scores_of(
        self, gen: _Generation, built: _Built, searcher: tantivy.Searcher, addrs: list[tantivy.DocAddress]
    ) -> list[float]:
        """Relevance of a sorted page: the text query once more, restricted to the page's ids."""
        if built.query is None or not addrs:
            return [0.0] * len(addrs)
        doc_ids = [str(searcher.doc(a).get_first(_ID)) for a in addrs]
        restricted = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, built.query),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(
                    tantivy.Query.term_set_query(gen.schema, _ID, doc_ids), 0.0
                )),
            ]
        )  # fmt: skip
        found = {(a.segment_ord, a.doc): float(sc) for sc, a in searcher.search(restricted, limit=len(addrs)).hits}
        return [found.get((a.segment_ord, a.doc), 0.0) for a in addrs]

    def _python_sorted(
        self,
        gen: _Generation,
        searcher: tantivy.Searcher,
        final: tantivy.Query,
        built: _Built,
        query: SearchQuery,
        normalise: Callable[[float], float],
    ) -> tuple[int, list[tuple[float, tantivy.DocAddress]]]:
        """Several sort keys or mixed types: sort every match in Python (slower, rare)."""
        total = _count(searcher.search(final, limit=1, count=True))
        if total == 0:
            return 0, []
        hits = searcher.search(final, limit=total).hits
        addrs = [a for _, a in hits]
        columns: list[list[Any]] = []
        for fname, _ in query.sort:
            numbers = searcher.fast_field_values(_sort_num(fname), addrs)
            if any(n is None for n in numbers):
                texts = [searcher.doc(a) for a in addrs]
                column: list[Any] = []
                for n, doc in zip(numbers, texts, strict=True):
                    source = doc.get_first(_SOURCE)
                    value = json.loads(bytes(source)).get(fname) if n is None and source is not None else n
                    column.append(value)
                columns.append(column)
            else:
                columns.append(list(numbers))
        order = sorted(
            range(len(addrs)),
            key=lambda i: (
                *(sort_key(columns[k][i], d) for k, (_, d) in enumerate(query.sort)),
                -float(hits[i][0]),
                i,
            ),
        )
        page = order[query.offset : query.offset + query.per_page]
        return total, [(normalise(float(hits[i][0])), addrs[i]) for i in page]

    def _has_values(self, gen: _Generation, searcher: tantivy.Searcher, column: str) -> bool:
        known = gen.columns.get(column)
        if known is None:
            known = gen.columns[column] = _count(searcher.search(tantivy.Query.exists_query(column), limit=1)) > 0
        return known

    def _facets(
        self, gen: _Generation, searcher: tantivy.Searcher, final: tantivy.Query, names: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        aggs: dict[str, Any] = {}
        for i, name in enumerate(names):
            for kind, column in (("s", _filter_str(name)), ("n", _filter_num(name))):
                if not self._has_values(gen, searcher, column):
                    continue  # most fields hold only strings or only numbers: skip the empty column
                aggs[f"{kind}{i}"] = {
                    "terms": {"field": column, "size": self._max_values, "segment_size": self._max_values * 4}
                }
        raw = searcher.aggregate(final, aggs) if aggs else {}
        out: dict[str, dict[str, int]] = {}
        for i, name in enumerate(names):
            counts: dict[str, int] = {}
            for kind in ("s", "n"):
                for bucket in raw.get(f"{kind}{i}", {}).get("buckets", []):
                    key = bucket["key"]
                    label = _number_key(float(key)) if kind == "n" else str(key)
                    counts[label] = counts.get(label, 0) + int(bucket["doc_count"])
            out[name] = dict(sorted(counts.items()))
        return out

    def _highlights(self, defn: IndexDefinition, document: Mapping[str, Any], matcher: Matcher) -> dict[str, str]:
        out: dict[str, str] = {}
        for fname in defn.highlight:
            value = document.get(fname)
            if isinstance(value, str):
                text = snippet(value, matcher, self._crop_words)
            elif isinstance(value, list | tuple):
                text = join_snippets(snippet(v, matcher, self._crop_words) for v in value if isinstance(v, str))
            else:
                text = None
            if text:
                out[fname] = text
        return out

    def close(self) -> None:
        with self._states_lock:
            self._states.clear()


def _words(defn: IndexDefinition, docs: Iterable[Mapping[str, Any]]) -> set[str]:
    """The terms of the documents' searchable fields, as the default analyzer makes them (a field analysed
    otherwise gets its terms from the full vocabulary rebuild that follows the write)."""
    return {
        term for doc in docs for name in defn.searchable for text in _texts(doc.get(name)) for term in analyze(text)
    }


def _plain_field(
    schema: tantivy.Schema,
    fname: str,
    word: str,
    exact: bool,
    use_regex: bool,
    by_typo: Mapping[int, list[str]],
    rank: int,
) -> list[tantivy.Query]:
    """One query word in a field of the default analysis: the word itself, its prefix expansion, its typos."""
    queries: list[tantivy.Query] = []
    if exact:
        score = _word_score(0, rank, exact=True)
        queries.append(tantivy.Query.const_score_query(tantivy.Query.term_query(schema, fname, word), score))
    if use_regex:
        regex = tantivy.Query.regex_query(schema, fname, re.escape(word) + ".*")
        queries.append(tantivy.Query.const_score_query(regex, _word_score(0, rank)))
    else:
        for typos, terms in by_typo.items():
            query = tantivy.Query.term_set_query(schema, fname, terms)
            queries.append(tantivy.Query.const_score_query(query, _word_score(typos, rank)))
    return queries


def _stemmed(stemmer: str | None, word: str) -> str:
    return word if stemmer is None else stem(stemmer, word)


def _language_field(
    schema: tantivy.Schema,
    fname: str,
    stemmer: str | None,
    own: frozenset[str],
    word: str,
    candidates: Mapping[str, int],
    rank: int,
) -> list[tantivy.Query]:
    """One query word in a language field, asked only for the terms the field has. A stemmed field matches the
    word's stem as a word without typo (an inflection is not Meilisearch's `exactness`); typos and prefixes count
    against the indexed terms (stems) like any other field's."""
    queries: list[tantivy.Query] = []
    stemmed = _stemmed(stemmer, word)
    if stemmed in own:
        score = _word_score(0, rank, exact=stemmer is None)
        queries.append(tantivy.Query.const_score_query(tantivy.Query.term_query(schema, fname, stemmed), score))
    by_typo: dict[int, list[str]] = {}
    for term, typos in candidates.items():
        if term != stemmed and term in own:
            by_typo.setdefault(typos, []).append(term)
    for typos, terms in by_typo.items():
        query = tantivy.Query.term_set_query(schema, fname, terms)
        queries.append(tantivy.Query.const_score_query(query, _word_score(typos, rank)))
    return queries


def _phrase(schema: tantivy.Schema, fname: str, stemmer: str | None, alt: tuple[str, ...], rank: int) -> tantivy.Query:
    """A synonym (one word or a phrase) in one field, stemmed as that field was."""
    words = [stem(stemmer, w) for w in alt] if stemmer is not None else list(alt)
    if len(words) == 1:
        query = tantivy.Query.term_query(schema, fname, words[0])
    else:
        query = tantivy.Query.phrase_query(schema, fname, list[str | tuple[int, str]](words))
    return tantivy.Query.const_score_query(query, _word_score(0, rank))


def _word_score(typos: int, rank: int, *, exact: bool = False) -> int:
    return _W_WORD + (2 - typos) * _W_TYPO + (_ATTR_MAX - min(rank, _ATTR_MAX)) * _W_ATTR + int(exact) * _W_EXACT


def _combine(text: tantivy.Query | None, filters: tantivy.Query | None) -> tantivy.Query:
    if text is None and filters is None:
        return tantivy.Query.all_query()
    if filters is None:
        assert text is not None
        return text
    if text is None:
        return filters
    # Filters restrict without scoring: a zero constant keeps the text score as the ranking.
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, text), (tantivy.Occur.Must, tantivy.Query.const_score_query(filters, 0.0))]
    )


def _count(result: tantivy.SearchResult) -> int:
    # `count` exists at run time (search(..., count=True)) but is missing from tantivy's stubs.
    return int(getattr(result, "count", 0) or 0)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
