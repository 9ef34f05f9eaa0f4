"""The multilingual thesaurus (seeds/data/thesaurus.yaml), as the app hands it to the engines, finds the
English listings from German, Norwegian, Spanish, French and Swedish queries: the same on both engines."""

from __future__ import annotations

from app.search_index.thesaurus import catalogue_synonyms, merge_groups
from search import IndexDefinition, SearchEngine, SearchQuery

LISTINGS = IndexDefinition(
    name="thesaurus_listings",
    searchable=("title", "summary", "description"),
    filterable=("type",),
    facets=(),
    sortable=("title",),
    synonyms=catalogue_synonyms(),
    highlight=("title", "summary"),
)
# The seeded listings' own English text (seeds/data/demo/solutions.yaml), shortened.
DOCS = [
    {"id": "leak", "type": "solution", "title": "Acoustic leak detection for water mains",
     "summary": "Correlating acoustic loggers on valves and hydrants that pinpoint hidden leaks in buried pipes.",
     "description": "Loggers listen to the network every night, when leak noise stands out."},
    {"id": "night-flow", "type": "solution", "title": "Night-flow analytics for district metered areas",
     "summary": "Software that reads district inflow meters and flags zones whose minimum night flow is creeping up.",
     "description": "Ranks the zones by likely leakage volume."},
    {"id": "cube", "type": "solution", "title": "Filter Cube fine-dust filter columns (Stuttgart Neckartor)",
     "summary": "Roadside columns with filters, fans and sensors that clean the air at a polluted road section.",
     "description": "Over 10 % less PM10."},
    {"id": "bikes", "type": "solution", "title": "Electric bike-share with geofenced parking",
     "summary": "Docked and dockless e-bikes for commuters.", "description": "Stations near transit."},
    {"id": "meters", "type": "solution", "title": "Smart water meters with backflow alarms",
     "summary": "Meters for households.", "description": "Hourly readings of water use."},
]  # fmt: skip
WATER_LOSS = {"leak", "night-flow"}


def test_groups_merge_with_the_built_in_english_ones() -> None:
    assert merge_groups([("a", "B"), ("c",), ("b", "d"), ("C", "e")]) == [("a", "b", "d"), ("c", "e")]
    synonyms = catalogue_synonyms()
    assert {"water loss", "non-revenue water", "leakage"} <= set(synonyms["wasserverlust"])
    assert "pm10" in synonyms["feinstaub"]


def test_queries_in_other_languages_find_the_english_listings(engine: SearchEngine) -> None:
    """`engine` is each engine in turn (tests/search/conftest.py)."""
    engine.ensure_index(LISTINGS)
    engine.upsert(LISTINGS.name, DOCS)

    def top3(q: str) -> list[str]:
        return [h.id for h in engine.search(LISTINGS.name, SearchQuery(q=q, per_page=3)).hits]

    for query in ("Wasserverlust", "lekkasje", "lekkasje vann", "fugas de agua", "fuites d'eau", "läckage"):
        found = top3(query)
        assert set(found[:2]) == WATER_LOSS, (query, found)
        assert "bikes" not in found, (query, found)
    for query in ("Feinstaub Stuttgart", "svevestøv", "particules fines", "polveri sottili"):
        assert top3(query)[0] == "cube", query
