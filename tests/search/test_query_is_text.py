"""A user's query is text on every engine (issue 12): field syntax, regular expressions and ranges are not
interpreted, so `q` can neither reach a field that is not searchable nor match what its words do not."""

from __future__ import annotations

import pytest

from search import IndexDefinition, SearchEngine, SearchQuery
from tests.search.conftest import ENGINE_KINDS, SharedIndexes

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)

THINGS = IndexDefinition(
    name="things",
    searchable=("title", "body"),
    filterable=("vendor_id", "is_demo"),
    highlight=("title",),
)
DOCS = [
    {"id": "a", "title": "Leak detection", "body": "water mains", "vendor_id": 1, "is_demo": True},
    {"id": "b", "title": "Zebra crossing", "body": "roads", "vendor_id": 2, "is_demo": False},
    {"id": "c", "title": "Night flow", "body": "district metered areas", "vendor_id": 1, "is_demo": True},
]


@pytest.fixture(params=ENGINE_KINDS)
def things(request: pytest.FixtureRequest, shared_indexes: SharedIndexes) -> SearchEngine:
    """The documents, loaded once per engine kind and worker, for the tests that only search (writes raise)."""
    return shared_indexes.search_only(request, THINGS, DOCS)


@pytest.fixture
def writable_things(engine: SearchEngine) -> SearchEngine:
    """The documents in an index of this test's own: for the test that adds one."""
    engine.ensure_index(THINGS)
    engine.upsert(THINGS.name, DOCS)
    return engine


@pytest.mark.parametrize(
    "q", ["vendor_id:1", "is_demo:true", "title:/.*/", "title:leak", "[a TO z]", "{a TO z}", "title:*"]
)
def test_query_syntax_is_not_interpreted(things: SearchEngine, q: str) -> None:
    # None of these documents holds the words "vendor", "demo", "title" or "to" in a searchable field: a
    # query that finds any of them read the text as syntax (a filter field, a regex, a range, an OR).
    result = things.search(THINGS.name, SearchQuery(q=q))
    assert result.total == 0, [hit.id for hit in result.hits]


def test_the_same_words_as_text_are_found(writable_things: SearchEngine) -> None:
    writable_things.upsert(THINGS.name, [{"id": "d", "title": "Vendor id 1 is demo true", "body": "title a to z"}])
    for q in ("vendor_id:1", "is_demo:true", "title:/.*/", "[a TO z]"):
        assert [hit.id for hit in writable_things.search(THINGS.name, SearchQuery(q=q)).hits] == ["d"], q
