"""The four search indexes, defined for the `search/` package (which knows nothing of our models).

Every index uses the same names for the fields people filter on, so that one search across all types
can filter them alike: type, countries, cities, categories, dimensions, sdgs, kpis, vendors, hubs,
languages, year.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.search_index.thesaurus import catalogue_synonyms
from search import IndexDefinition
from search.languages import primary_subtag

SOLUTIONS = "solutions"
CASE_STUDIES = "case_studies"
VENDORS = "vendors"
GUIDELINES = "guidelines"
# Not an index: an outbox row of this name says the thesaurus changed (its object id is the concept's), and the
# indexer pushes the synonyms to every index (app/search_index/indexer.py).
THESAURUS = "thesaurus"

# What a client may filter and facet on, mapped from the API's parameter names to document fields.
FILTER_FIELDS: dict[str, str] = {
    "type": "type",
    "country": "countries",
    "city": "cities",
    "category": "categories",
    "dimension": "dimensions",
    "sdg": "sdgs",
    "kpi": "kpis",
    "vendor": "vendors",
    "hub": "hubs",
    "language": "languages",
    "year": "year",
}
FACET_FIELDS = ("type", "categories", "dimensions", "countries", "sdgs", "languages")
_FILTERABLE = tuple(FILTER_FIELDS.values())

# Each of these languages' text (an original and the translations) has a field of its own, analysed with that
# language's tools (docs/architecture.md §6, "Search across languages"): the thesaurus's languages. Text in any other
# language goes to `text_other`, with the default analysis.
SEARCH_LANGUAGES = ("en", "fr", "es", "ru", "ar", "zh", "de", "nb", "sv", "pt", "it")
_ALIASES = {"no": "nb", "nn": "nb"}  # Norwegian: one field (Bokmål's stemmer serves Nynorsk too)
OTHER_LANGUAGE_FIELD = "text_other"
LANGUAGE_FIELDS: dict[str, str] = {f"text_{tag}": tag for tag in SEARCH_LANGUAGES}


def language_field(tag: str) -> str:
    """The search field a text in language `tag` (BCP 47) is indexed in."""
    try:
        primary = primary_subtag(tag)
    except ValueError:
        return OTHER_LANGUAGE_FIELD
    primary = _ALIASES.get(primary, primary)
    return f"text_{primary}" if primary in SEARCH_LANGUAGES else OTHER_LANGUAGE_FIELD


def language_texts(translations: Mapping[str, Mapping[str, str]]) -> dict[str, list[str]]:
    """Each translation's text fields by language field (searched after the original's own fields). The original
    is not copied into its language's field: a second copy of it doubled the search bench's CPU time per query
    for English originals, and still cost the typo query twice its time with 11 % of originals in other
    languages (docs/architecture.md, "Search across languages")."""
    out: dict[str, list[str]] = {}
    for tag, texts in translations.items():
        out.setdefault(language_field(tag), []).extend(text for text in texts.values() if text)
    return out


def _definition(name: str, searchable: tuple[str, ...], highlight: tuple[str, ...]) -> IndexDefinition:
    return IndexDefinition(
        name=name,
        primary_key="id",
        searchable=searchable,
        filterable=_FILTERABLE,
        facets=FACET_FIELDS,
        sortable=("year", "title"),
        synonyms=catalogue_synonyms(),  # the seed file's; the indexer uses the database's (thesaurus_service)
        highlight=highlight,
        languages={f: tag for f, tag in LANGUAGE_FIELDS.items() if f in searchable},
    )


_BY_LANGUAGE = (*LANGUAGE_FIELDS, OTHER_LANGUAGE_FIELD)


DEFINITIONS: dict[str, IndexDefinition] = {
    SOLUTIONS: _definition(
        SOLUTIONS,
        ("title", "summary", "kpi_names", "categories", "vendor_name", "description", *_BY_LANGUAGE),
        ("title", "summary", "description"),
    ),
    CASE_STUDIES: _definition(
        CASE_STUDIES,
        ("title", "summary", "city_name", "kpi_names", "body", *_BY_LANGUAGE),
        ("title", "summary", "body"),
    ),
    VENDORS: _definition(VENDORS, ("title", "description", "categories"), ("title", "description")),
    GUIDELINES: _definition(
        GUIDELINES,
        ("title", "summary", "categories", "kpi_names", "body", *_BY_LANGUAGE),
        ("title", "summary", "body"),
    ),
}
