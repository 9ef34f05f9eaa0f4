"""Search across languages, the same on both engines (`loaded` is each in turn, tests/search/conftest.py):
the catalogue's own index definition (translations searched after the original's fields, the multilingual
thesaurus as synonyms) finds the English listings from a query in each of the six UN languages and from the
issue's German and Norwegian queries, and finds a listing by the words of its translation only."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from app.search_index.indexes import DEFINITIONS, SOLUTIONS, language_texts
from app.search_index.service import _in_language
from app.search_index.thesaurus import THESAURUS_FILE
from search import SearchEngine, SearchQuery
from tests.search.conftest import ENGINE_KINDS, SharedIndexes
from tests.search.test_thesaurus import DOCS

# The seeded listings' English text (tests/search/test_thesaurus.py), with the real listing's human
# translations as the app indexes them (seeds/data/demo/solution_translations.yaml, shortened).
TRANSLATED = {
    "cube": {
        "de": {"title": "Filter Cube Feinstaubfiltersäulen (Stuttgart Neckartor)",
               "summary": "Säulen am Straßenrand mit Filtern, Ventilatoren und Sensoren."},
        "nb": {"title": "Filter Cube filtersøyler mot svevestøv (Stuttgart Neckartor)",
               "summary": "Søyler langs veien med filtre, vifter og sensorer."},
    },
    "leak": {"es": {"title": "Detección acústica de fugas en tuberías de agua",
                    "summary": "Registradores acústicos que localizan fugas ocultas en tuberías enterradas."}},
}  # fmt: skip
LISTINGS = replace(DEFINITIONS[SOLUTIONS], name="languages_listings")
# One query per UN language (ar, zh, en, fr, ru, es) and the examples: the English item each must find
# in the top three.
QUERIES = [
    ("تسرب المياه", "leak"),  # ar: water leakage
    ("漏水", "leak"),  # zh: water leak
    ("water loss", "leak"),  # en
    ("fuites d'eau", "leak"),  # fr
    ("утечки воды", "leak"),  # ru: water leaks
    ("fugas de agua", "leak"),  # es
    ("Feinstaub Stuttgart", "cube"),
    ("lekkasje vann", "leak"),
    ("جسيمات دقيقة", "cube"),  # ar: fine particles (Meilisearch splits the article ال off: see the thesaurus)
    ("细颗粒物", "cube"),  # zh: fine particulate matter
    ("мелкодисперсные частицы", "cube"),  # ru: fine particles
    ("intelligente Wasserzähler", "meters"),  # the catalogue's other key terms
    ("共享单车", "bikes"),
    ("vélopartage", "bikes"),
]


def indexed(doc: dict[str, str], original_language: str = "en") -> dict[str, object]:
    """A listing as the app indexes it (app/search_index/documents.py): each language's text in its field."""
    translations = TRANSLATED.get(doc["id"], {})
    return {
        **doc,
        "original_language": original_language,
        "translations": translations,
        **language_texts(translations),
    }


LISTING_DOCS = [indexed(doc) for doc in DOCS]


@pytest.fixture(params=ENGINE_KINDS)
def loaded(request: pytest.FixtureRequest, shared_indexes: SharedIndexes) -> SearchEngine:
    """The listings, loaded once per engine kind and worker: every test here only searches (writes raise)."""
    return shared_indexes.search_only(request, LISTINGS, LISTING_DOCS)


def _top3(engine: SearchEngine, q: str) -> list[str]:
    return [h.id for h in engine.search(LISTINGS.name, SearchQuery(q=q, per_page=3)).hits]


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_a_query_in_another_language_finds_the_english_item(loaded: SearchEngine, query: str, expected: str) -> None:
    found = _top3(loaded, query)
    assert expected in found, (query, found)
    assert expected == "bikes" or "bikes" not in found, (query, found)


def test_the_words_of_a_translation_find_the_item(loaded: SearchEngine) -> None:
    """Words only the translations have (no thesaurus term): German, Norwegian, Spanish."""
    assert _top3(loaded, "Straßenrand Ventilatoren")[:1] == ["cube"]
    assert _top3(loaded, "vifter")[:1] == ["cube"]
    assert _top3(loaded, "tuberías enterradas")[:1] == ["leak"]
    # ...and the hit carries the translations the app shows an asker of that language (below).
    hit = loaded.search(LISTINGS.name, SearchQuery(q="Straßenrand", per_page=1)).hits[0]
    assert _in_language(hit.document, ("de",))[2] == "de"


@pytest.mark.database_free
def test_the_thesaurus_covers_the_key_concepts_in_eleven_languages() -> None:
    concepts = yaml.safe_load(THESAURUS_FILE.read_text(encoding="utf-8"))
    assert len(concepts) >= 15
    for concept in concepts:
        assert set(concept["terms"]) == {"ar", "zh", "en", "fr", "ru", "es", "de", "nb", "sv", "pt", "it"}, concept
    assert "# Sources:" in THESAURUS_FILE.read_text(encoding="utf-8")


@pytest.mark.database_free
def test_a_hit_is_shown_in_the_askers_language_where_a_translation_exists() -> None:
    doc = {"title": "Filter Cube", "summary": "Columns.", "original_language": "en", "translations": TRANSLATED["cube"]}
    assert _in_language(doc, ("de-CH", "en")) == (
        TRANSLATED["cube"]["de"]["title"],
        TRANSLATED["cube"]["de"]["summary"],
        "de",
    )
    assert _in_language(doc, ("no",))[2] == "nb"
    assert _in_language(doc, ("fi",)) == ("Filter Cube", "Columns.", "en")
    assert _in_language(doc, ()) == ("Filter Cube", "Columns.", "en")
