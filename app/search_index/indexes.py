"""The four search indexes, defined for the `search/` package (which knows nothing of our models).

Every index uses the same names for the fields people filter on, so that one search across all types
can filter them alike: type, countries, cities, categories, dimensions, sdgs, kpis, vendors, hubs,
languages, year.
"""

from __future__ import annotations

from app.search_index.thesaurus import catalogue_synonyms
from search import IndexDefinition

SOLUTIONS = "solutions"
CASE_STUDIES = "case_studies"
VENDORS = "vendors"
GUIDELINES = "guidelines"

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


def _definition(name: str, searchable: tuple[str, ...], highlight: tuple[str, ...]) -> IndexDefinition:
    return IndexDefinition(
        name=name,
        primary_key="id",
        searchable=searchable,
        filterable=_FILTERABLE,
        facets=FACET_FIELDS,
        sortable=("year", "title"),
        synonyms=catalogue_synonyms(),  # the built-in groups and the multilingual thesaurus
        highlight=highlight,
    )


DEFINITIONS: dict[str, IndexDefinition] = {
    SOLUTIONS: _definition(
        SOLUTIONS,
        ("title", "summary", "kpi_names", "categories", "vendor_name", "description", "translations"),
        ("title", "summary", "description"),
    ),
    CASE_STUDIES: _definition(
        CASE_STUDIES,
        ("title", "summary", "city_name", "kpi_names", "body", "translations"),
        ("title", "summary", "body"),
    ),
    VENDORS: _definition(VENDORS, ("title", "description", "categories"), ("title", "description")),
    GUIDELINES: _definition(
        GUIDELINES,
        ("title", "summary", "categories", "kpi_names", "body", "translations"),
        ("title", "summary", "body"),
    ),
}
