"""One conformance suite for every search engine (tantivy and Meilisearch, see conftest.py).

Meilisearch is the reference: each expectation below is what Meilisearch 1.21 answers with the
settings `search/meili_engine.py` applies, and the tantivy engine must answer the same.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from search import (
    InvalidDocument,
    InvalidQuery,
    SearchEngine,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
)
from tests.search.conftest import ENGINE_KINDS, SharedIndexes
from tests.search.corpus import CASE_STUDIES, CORPUS, SOLUTION_DOCS, SOLUTIONS

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)

ALL_IDS = {d["id"] for d in CORPUS}
BY_ID = {d["id"]: d for d in CORPUS}


@pytest.fixture
def writable(engine: SearchEngine) -> SearchEngine:
    """The corpus in an index of this test's own: for the tests that change it."""
    engine.ensure_index(CASE_STUDIES)
    engine.upsert(CASE_STUDIES.name, CORPUS)
    return engine


@pytest.fixture(params=ENGINE_KINDS)
def loaded(request: pytest.FixtureRequest, shared_indexes: SharedIndexes) -> SearchEngine:
    """The corpus, loaded once per engine kind and worker: for the tests that only search (writes raise)."""
    return shared_indexes.search_only(request, CASE_STUDIES, CORPUS)


def search(engine: SearchEngine, q: str = "", **kwargs: Any) -> SearchResult:
    kwargs.setdefault("per_page", 50)
    return engine.search(CASE_STUDIES.name, SearchQuery(q=q, **kwargs))


def ids(result: SearchResult) -> list[str]:
    return [h.id for h in result.hits]


def expected_facets(docs: list[dict[str, Any]], field: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for doc in docs:
        values = doc[field] if isinstance(doc[field], list) else [doc[field]]
        counts.update({str(v) for v in values})
    return dict(counts)


# ----------------------------------------------------------------- matching and ranking


def test_empty_query_returns_everything(loaded: SearchEngine) -> None:
    result = search(loaded, "")
    assert result.total == len(CORPUS)
    assert set(ids(result)) == ALL_IDS
    assert all(h.index == "case_studies" and h.document == BY_ID[h.id] for h in result.hits)
    assert all(h.highlights == {} for h in result.hits)


def test_typo_one_transposition_at_nine_letters(loaded: SearchEngine) -> None:
    result = search(loaded, "stuttgrat")
    assert set(ids(result)) == {"cs-1", "cs-8"}
    assert ids(result)[0] == "cs-1"  # in the title, cs-8 only in the body: earlier field first


def test_transposition_counts_as_one_typo(loaded: SearchEngine) -> None:
    # 7 letters allow one typo; "sensros" is "sensors" with two letters swapped.
    assert "cs-1" in ids(search(loaded, "sensros"))


def test_short_words_allow_no_typo(loaded: SearchEngine) -> None:
    assert ids(search(loaded, "bike")) == ["cs-6"]
    assert search(loaded, "bkie").total == 0  # 4 letters: exact only


def test_first_letter_typo_costs_two(loaded: SearchEngine) -> None:
    assert search(loaded, "tuttgart").total == 0  # 8 letters allow 1 typo; a lost first letter costs 2
    assert set(ids(search(loaded, "xtuttgart"))) == {"cs-1", "cs-8"}  # 9 letters allow 2


def test_multi_word_query_with_typos_ranks_full_match_first(loaded: SearchEngine) -> None:
    result = search(loaded, "fine dust stutgart")
    assert ids(result)[0] == "cs-1"
    assert "cs-12" in ids(result)  # matches only "fine": still found, ranked after
    # "dsut" has 4 letters, so no typo is allowed: under the `last` matching strategy the query
    # falls back to "fine"; the Stuttgart fine-dust document still comes first (title match).
    result = search(loaded, "fine dsut stuttgart")
    assert ids(result)[0] == "cs-1"
    assert set(ids(result)) == {"cs-1", "cs-12"}


def test_more_matched_words_rank_first(loaded: SearchEngine) -> None:
    order = ids(search(loaded, "water loss valencia"))
    assert order[0] == "cs-7"  # all three words
    assert order.index("cs-8") < order.index("cs-2")  # "water loss" via its synonym "leakage" beats "water"


def test_first_word_is_required(loaded: SearchEngine) -> None:
    assert search(loaded, "zebra stuttgart").total == 0


def test_prefix_on_last_word_only(loaded: SearchEngine) -> None:
    assert ids(search(loaded, "filt")) == ["cs-2"]
    assert ids(search(loaded, "Filtrat")) == ["cs-2"]
    assert ids(search(loaded, "filtrst")) == ["cs-2"]  # prefix and one typo together
    assert search(loaded, "filt water").total == 0  # "filt" is not the last word: no prefix
    assert search(loaded, "filt ").total == 0  # a trailing space ends the word


def test_accents_are_folded(loaded: SearchEngine) -> None:
    assert ids(search(loaded, "munchen")) == ["cs-11"]
    assert ids(search(loaded, "München")) == ["cs-11"]


def test_synonyms_multi_word(loaded: SearchEngine) -> None:
    found = set(ids(search(loaded, "particulate matter")))
    assert {"cs-1", "cs-5"} <= found  # "fine dust" and "PM2.5"
    assert found <= {"cs-1", "cs-5", "cs-11"}
    assert set(ids(search(loaded, "electric vehicles"))) == {"cs-3", "cs-9"}  # "e-mobility"
    assert set(ids(search(loaded, "e-mobility"))) == {"cs-3", "cs-9"}
    assert "cs-8" in ids(search(loaded, "non-revenue water"))  # "leakage"


def test_highlights(loaded: SearchEngine) -> None:
    hit = search(loaded, "stuttgart").hits[0]
    assert hit.id == "cs-1"
    assert hit.highlights["title"] == "Fine dust monitoring in <mark>Stuttgart</mark>"
    assert "body" not in hit.highlights  # only fields that matched

    prefix_hit = search(loaded, "filt").hits[0]
    assert prefix_hit.highlights["title"] == "Water <mark>filt</mark>ration upgrade in Lyon"

    synonym_hit = next(h for h in search(loaded, "particulate matter").hits if h.id == "cs-1")
    assert "<mark>fine dust</mark>" in synonym_hit.highlights["summary"]


def test_highlights_are_html_safe(engine: SearchEngine) -> None:
    engine.ensure_index(CASE_STUDIES)
    doc = dict(CORPUS[0], id="cs-x", title="Stuttgart <script>alert(1)</script> & co")
    engine.upsert(CASE_STUDIES.name, [doc])
    title = search(engine, "stuttgart").hits[0].highlights["title"]
    assert title.startswith("<mark>Stuttgart</mark> &lt;script&gt;")
    assert "<script>" not in title
    assert "&amp; co" in title


def test_long_fields_are_cropped_around_the_match(engine: SearchEngine) -> None:
    engine.ensure_index(CASE_STUDIES)
    words = " ".join(f"filler{i}" for i in range(100))
    doc = dict(CORPUS[0], id="cs-long", body=f"{words} turbines {words}")
    engine.upsert(CASE_STUDIES.name, [doc])
    body = search(engine, "turbines").hits[0].highlights["body"]
    assert "<mark>turbines</mark>" in body
    assert body.startswith("…")
    assert body.endswith("…")
    assert len(body.split()) < 40


# ----------------------------------------------------------------- filters, facets, sort, paging


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"city": ["Stuttgart"]}, {"cs-1", "cs-8"}),
        ({"city": ["stuttgart"]}, {"cs-1", "cs-8"}),  # case-insensitive, as Meilisearch
        ({"city": ["München"]}, {"cs-11"}),
        ({"kpis": ["EN-EN-AQ-1C"]}, {"cs-1", "cs-5", "cs-11"}),  # list of strings
        ({"sdgs": [13]}, {"cs-4", "cs-9"}),  # list of integers
        ({"sdgs": ["13"]}, {"cs-4", "cs-9"}),  # a number also matches its string form
        ({"year": [2019]}, {"cs-1"}),
        ({"year": [2019, 2021]}, {"cs-1", "cs-2"}),  # OR within a field
        ({"country": ["DE"], "categories": ["water"]}, {"cs-8"}),  # AND across fields
        ({"country": ["DE", "FR"], "categories": ["water", "energy"]}, {"cs-2", "cs-8", "cs-12"}),
        ({"hubs": ["nordics"], "sdgs": [7]}, {"cs-3"}),
        ({"country": []}, ALL_IDS),  # an empty selection does not constrain
        ({"city": ["Atlantis"]}, set()),
    ],
)
def test_filters(loaded: SearchEngine, filters: dict[str, list[str | int]], expected: set[str]) -> None:
    result = search(loaded, "", filters=filters)
    assert set(ids(result)) == expected
    assert result.total == len(expected)


def test_filters_combine_with_text(loaded: SearchEngine) -> None:
    result = search(loaded, "water", filters={"country": ["ES", "FR"]})
    assert set(ids(result)) == {"cs-2", "cs-7"}


def test_facets_exact_counts(loaded: SearchEngine) -> None:
    fields = ["country", "categories", "sdgs", "year"]
    result = search(loaded, "", facets=fields)
    for name in fields:
        assert result.facets[name] == expected_facets(CORPUS, name), name


def test_facets_are_counted_with_all_filters_applied(loaded: SearchEngine) -> None:
    filters: dict[str, list[str | int]] = {"categories": ["water", "air-quality"], "country": ["DE", "ES"]}
    result = search(loaded, "", filters=filters, facets=["categories", "country", "kpis"])
    matching = [d for d in CORPUS if set(d["categories"]) & {"water", "air-quality"} and d["country"] in {"DE", "ES"}]
    assert set(ids(result)) == {"cs-1", "cs-7", "cs-8", "cs-11"} == {d["id"] for d in matching}
    for name in ("categories", "country", "kpis"):
        assert result.facets[name] == expected_facets(matching, name), name
    assert result.facets["categories"]["iot"] == 2  # cs-1 and cs-7 also carry "iot"


def test_facets_follow_the_text_query(loaded: SearchEngine) -> None:
    result = search(loaded, "stuttgart", facets=["categories"])
    assert result.facets["categories"] == {"air-quality": 1, "iot": 1, "water": 1}


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_by_year(loaded: SearchEngine, direction: str) -> None:
    result = search(loaded, "", sort=[("year", direction)])
    years = [h.document["year"] for h in result.hits]
    assert years == sorted(years, reverse=direction == "desc")
    assert set(ids(result)) == ALL_IDS
    water = search(loaded, "water", sort=[("year", direction)])
    assert set(ids(water)) == set(ids(search(loaded, "water")))
    water_years = [h.document["year"] for h in water.hits]
    assert water_years == sorted(water_years, reverse=direction == "desc")


def test_sort_by_string_and_by_two_keys(loaded: SearchEngine) -> None:
    titles = [h.document["title"] for h in search(loaded, "", sort=[("title", "asc")]).hits]
    assert titles == sorted(titles, key=str.lower)
    result = search(loaded, "", sort=[("year", "desc"), ("title", "asc")])
    assert [h.document["year"] for h in result.hits] == sorted((d["year"] for d in CORPUS), reverse=True)


def test_pagination_exact_and_disjoint(loaded: SearchEngine) -> None:
    for q, sort in (("", []), ("water", []), ("", [("year", "desc")])):
        full = search(loaded, q, sort=sort)
        seen: list[str] = []
        for page in range(1, 5):
            result = search(loaded, q, sort=sort, page=page, per_page=5)
            assert result.total == full.total
            assert result.page == page
            assert result.per_page == 5
            seen.extend(ids(result))
        assert len(seen) == len(set(seen)) == full.total
        assert seen == ids(full)  # pages are slices of one stable order
    assert search(loaded, "", page=4, per_page=5).hits == []


# ----------------------------------------------------------------- several indexes


def test_multi_search_labels_types(writable: SearchEngine) -> None:
    writable.ensure_index(SOLUTIONS)
    writable.upsert(SOLUTIONS.name, SOLUTION_DOCS)
    query = SearchQuery(q="sensors", per_page=50)
    result = writable.multi_search(["case_studies", "solutions"], query)
    labelled = {(h.index, h.id) for h in result.hits}
    assert labelled == {("case_studies", "cs-1"), ("solutions", "sol-1"), ("solutions", "sol-2")}
    assert result.total == 3
    assert all(h.document["type"] == {"case_studies": "case_study", "solutions": "solution"}[h.index]
               for h in result.hits)  # fmt: skip
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)

    faceted = writable.multi_search(["case_studies", "solutions"], SearchQuery(q="", facets=["sdgs"], per_page=2))
    assert faceted.total == len(CORPUS) + len(SOLUTION_DOCS)
    assert faceted.facets["sdgs"] == dict(
        Counter(expected_facets(CORPUS, "sdgs")) + Counter(expected_facets(SOLUTION_DOCS, "sdgs"))
    )
    pages = [
        writable.multi_search(["case_studies", "solutions"], SearchQuery(q="", page=p, per_page=4))
        for p in (1, 2, 3, 4)
    ]
    seen = [(h.index, h.id) for r in pages for h in r.hits]
    assert len(seen) == len(set(seen)) == len(CORPUS) + len(SOLUTION_DOCS)

    with pytest.raises(InvalidQuery) as err:
        writable.multi_search(["case_studies", "solutions"], SearchQuery(filters={"city": ["Lyon"]}))
    assert err.value.field == "city"  # filterable in case_studies only


# ----------------------------------------------------------------- writes


def test_delete_removes(writable: SearchEngine) -> None:
    writable.delete(CASE_STUDIES.name, ["cs-1", "cs-unknown"])
    assert writable.count(CASE_STUDIES.name) == len(CORPUS) - 1
    assert writable.ids(CASE_STUDIES.name) == ALL_IDS - {"cs-1"}
    assert ids(search(writable, "stuttgart")) == ["cs-8"]


def test_upsert_replaces_without_duplicates(writable: SearchEngine) -> None:
    changed = dict(BY_ID["cs-6"], title="Cargo cycle counters in Copenhagen", year=2025)
    writable.upsert(CASE_STUDIES.name, [changed])
    assert writable.count(CASE_STUDIES.name) == len(CORPUS)
    assert writable.ids(CASE_STUDIES.name) == ALL_IDS
    result = search(writable, "cargo")
    assert ids(result) == ["cs-6"]
    assert result.hits[0].document["year"] == 2025
    assert search(writable, "", filters={"year": [2018]}).total == 0  # the old version is gone
    # The same id twice in one batch: the last one wins.
    writable.upsert(CASE_STUDIES.name, [dict(changed, title="First"), dict(changed, title="Second")])
    assert writable.count(CASE_STUDIES.name) == len(CORPUS)
    assert search(writable, "", filters={"year": [2025]}).hits[0].document["title"] == "Second"


def test_invalid_documents_are_rejected_whole(engine: SearchEngine) -> None:
    engine.ensure_index(CASE_STUDIES)
    for bad in ({"title": "no id"}, {"id": "has space"}, {"id": "ümlaut"}, {"id": True}):
        with pytest.raises(InvalidDocument):
            engine.upsert(CASE_STUDIES.name, [CORPUS[0], bad])
    assert engine.count(CASE_STUDIES.name) == 0


def test_clear_and_count(writable: SearchEngine) -> None:
    assert writable.count(CASE_STUDIES.name) == len(CORPUS)
    writable.clear(CASE_STUDIES.name)
    assert writable.count(CASE_STUDIES.name) == 0
    assert search(writable, "").total == 0
    assert writable.ids(CASE_STUDIES.name) == set()


def test_ensure_index_is_idempotent_and_keeps_documents(
    writable: SearchEngine, engine_maker: Callable[[], SearchEngine]
) -> None:
    writable.ensure_index(CASE_STUDIES)
    assert writable.count(CASE_STUDIES.name) == len(CORPUS)
    # Another process (a second engine on the same storage) sees the same index and definition.
    other = engine_maker()
    other.ensure_index(CASE_STUDIES)
    assert other.definition(CASE_STUDIES.name).filterable == CASE_STUDIES.filterable
    assert set(ids(other.search(CASE_STUDIES.name, SearchQuery(q="stuttgrat")))) == {"cs-1", "cs-8"}
    # A process that never called ensure_index finds the definition in the engine itself.
    fresh = engine_maker()
    assert set(fresh.definition(CASE_STUDIES.name).sortable) == set(CASE_STUDIES.sortable)
    assert ids(fresh.search(CASE_STUDIES.name, SearchQuery(q="filt"))) == ["cs-2"]
    # A new filterable field: settings change, documents stay and become filterable by it.
    wider = replace(CASE_STUDIES, filterable=(*CASE_STUDIES.filterable, "summary"))
    writable.ensure_index(wider)
    assert writable.count(CASE_STUDIES.name) == len(CORPUS)
    assert search(writable, "", filters={"summary": ["Counting every bike on the main corridors."]}).total == 1


def test_writes_from_another_engine_are_visible(
    writable: SearchEngine, engine_maker: Callable[[], SearchEngine]
) -> None:
    other = engine_maker()
    other.ensure_index(CASE_STUDIES)
    other.upsert(CASE_STUDIES.name, [dict(BY_ID["cs-10"], id="cs-99", title="Heat pumps in Graz")])
    assert ids(search(writable, "graz")) == ["cs-99"]
    assert ids(search(writable, "heat pumsp")) == ["cs-99"]  # typo lookup sees the new words too


def test_rebuild_swaps_atomically(writable: SearchEngine) -> None:
    old_ids = frozenset(ALL_IDS)
    new_docs = [dict(d, id=d["id"].replace("cs-", "new-")) for d in CORPUS[:7]]
    new_ids = frozenset(d["id"] for d in new_docs)
    observed: list[frozenset[str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                observed.append(frozenset(ids(search(writable, "", per_page=100))))
            except BaseException as exc:
                errors.append(exc)

    def slow_docs() -> Iterator[dict[str, Any]]:
        for doc in new_docs:
            time.sleep(0.02)  # let the reader run while the new index is being built
            yield doc

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert writable.rebuild(CASE_STUDIES, slow_docs()) == len(new_docs)
    finally:
        time.sleep(0.05)
        stop.set()
        thread.join(timeout=30)
    assert not errors
    assert observed
    assert set(observed) <= {old_ids, new_ids}
    assert old_ids in observed  # the old index answered while the new one was built
    assert writable.ids(CASE_STUDIES.name) == new_ids
    assert set(ids(search(writable, ""))) == new_ids
    assert ids(search(writable, "stuttgrat")) == ["new-1"]  # the new index is fully searchable


def test_rebuild_creates_a_missing_index(engine: SearchEngine) -> None:
    assert engine.rebuild(SOLUTIONS, iter(SOLUTION_DOCS)) == len(SOLUTION_DOCS)
    assert engine.ids(SOLUTIONS.name) == {d["id"] for d in SOLUTION_DOCS}


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (SearchQuery(filters={"body": ["x"]}), "body"),  # searchable, not filterable
        (SearchQuery(filters={"nope": ["x"]}), "nope"),
        (SearchQuery(filters={"year": [2.5]}), "year"),  # type: ignore[list-item]
        (SearchQuery(filters={"year": [None]}), "year"),  # type: ignore[list-item]
        (SearchQuery(filters={"year": 2019}), "year"),  # type: ignore[dict-item]
        (SearchQuery(facets=["vendor"]), "vendor"),  # filterable, not a facet
        (SearchQuery(sort=[("city", "asc")]), "city"),
        (SearchQuery(sort=[("year", "up")]), "year"),  # type: ignore[list-item]
        (SearchQuery(page=0), "page"),
        (SearchQuery(per_page=0), "per_page"),
    ],
)
def test_invalid_query_names_the_field(loaded: SearchEngine, query: SearchQuery, field: str) -> None:
    with pytest.raises(InvalidQuery) as err:
        loaded.search(CASE_STUDIES.name, query)
    assert err.value.field == field
    assert field in str(err.value)


def test_filter_values_are_escaped(engine: SearchEngine) -> None:
    engine.ensure_index(CASE_STUDIES)
    tricky = ['Saint "Quote"', "Back\\slash", "x' OR 1=1", "a = b AND c"]
    docs = [dict(CORPUS[0], id=f"cs-q{i}", city=city) for i, city in enumerate(tricky)]
    engine.upsert(CASE_STUDIES.name, docs)
    for i, city in enumerate(tricky):
        assert ids(search(engine, "", filters={"city": [city]})) == [f"cs-q{i}"]


def test_unreachable_engine(unreachable_engine: SearchEngine) -> None:
    assert unreachable_engine.healthy() is False
    with pytest.raises(SearchUnavailable):
        unreachable_engine.ensure_index(CASE_STUDIES)
    with pytest.raises(SearchUnavailable):
        unreachable_engine.upsert(CASE_STUDIES.name, CORPUS)
    with pytest.raises(SearchUnavailable):
        unreachable_engine.search(CASE_STUDIES.name, SearchQuery(q="water"))


def test_healthy(loaded: SearchEngine) -> None:
    assert loaded.healthy() is True


def test_tantivy_index_removed_underneath_is_unavailable(tmp_path: Path) -> None:
    import shutil

    from search.tantivy_engine import TantivyEngine

    engine = TantivyEngine(tmp_path / "search")
    engine.ensure_index(CASE_STUDIES)
    engine.upsert(CASE_STUDIES.name, CORPUS[:2])
    shutil.rmtree(tmp_path / "search")
    with pytest.raises(SearchUnavailable):
        engine.search(CASE_STUDIES.name, SearchQuery(q="water"))


def test_concurrent_reads_during_writes(writable: SearchEngine) -> None:
    """One writer, several readers: every search answers, counts only grow, nothing is lost."""
    extra = [dict(CORPUS[i % len(CORPUS)], id=f"cs-c{i}", title=f"Concurrent batch {i}") for i in range(40)]
    errors: list[BaseException] = []
    totals: list[list[int]] = [[] for _ in range(3)]
    done = threading.Event()

    def read(slot: int) -> None:
        while not done.is_set():
            try:
                totals[slot].append(search(writable, "", per_page=1).total)
                search(writable, "stuttgrat concurrent", facets=["country"])
            except BaseException as exc:
                errors.append(exc)

    readers = [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for thread in readers:
        thread.start()
    try:
        for start in range(0, len(extra), 8):
            writable.upsert(CASE_STUDIES.name, extra[start : start + 8])
    finally:
        done.set()
        for thread in readers:
            thread.join(timeout=30)
    assert not errors
    for seen in totals:
        assert seen == sorted(seen)  # a reader never sees a commit undone
    assert writable.count(CASE_STUDIES.name) == len(CORPUS) + len(extra)
    assert search(writable, "concurrent").total == len(extra)
