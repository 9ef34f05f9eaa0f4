"""Full-text search behind one interface: tantivy (embedded) or Meilisearch (server).

This package knows nothing about the database models: the app hands it plain documents (dicts)
and `IndexDefinition`s. See search/README.md for the semantics both engines share.
"""

from search.definitions import (
    DEFAULT_SYNONYM_GROUPS,
    DEFAULT_SYNONYMS,
    IndexDefinition,
    synonyms_from_groups,
)
from search.engine import FilterValue, Hit, SearchEngine, SearchQuery, SearchResult, SortDirection
from search.errors import IndexNotFound, InvalidDocument, InvalidQuery, SearchError, SearchUnavailable
from search.factory import EngineKind, create_engine

__all__ = [
    "DEFAULT_SYNONYMS",
    "DEFAULT_SYNONYM_GROUPS",
    "EngineKind",
    "FilterValue",
    "Hit",
    "IndexDefinition",
    "IndexNotFound",
    "InvalidDocument",
    "InvalidQuery",
    "SearchEngine",
    "SearchError",
    "SearchQuery",
    "SearchResult",
    "SearchUnavailable",
    "SortDirection",
    "create_engine",
    "synonyms_from_groups",
]
