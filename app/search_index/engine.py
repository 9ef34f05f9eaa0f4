"""The search engine the settings choose: embedded tantivy (default) or Meilisearch."""

from __future__ import annotations

from app.core.config import SearchEngineKind, Settings
from search import SearchEngine
from search.factory import create_engine


def make_search_engine(settings: Settings) -> SearchEngine:
    if settings.search_engine is SearchEngineKind.meilisearch:
        return create_engine(
            "meilisearch",
            data_dir=settings.search_dir,
            url=settings.meilisearch_url,
            api_key=settings.meilisearch_api_key,
            index_prefix=settings.search_index_prefix,
        )
    settings.search_dir.mkdir(parents=True, exist_ok=True)
    return create_engine(
        "tantivy",
        data_dir=settings.search_dir,
        url=None,
        api_key=None,
        index_prefix=settings.search_index_prefix,
    )
