"""Build the configured engine."""

from __future__ import annotations

import os
from typing import Literal

from search.engine import SearchEngine

EngineKind = Literal["tantivy", "meilisearch"]


def create_engine(
    kind: EngineKind,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    url: str | None = None,
    api_key: str | None = None,
    index_prefix: str = "",
) -> SearchEngine:
    """`tantivy` needs `data_dir` (index directories go under it); `meilisearch` needs `url`.

    `index_prefix` namespaces Meilisearch index uids (several deployments or test runs on one
    server); tantivy isolates by `data_dir` instead and ignores it.
    """
    if kind == "tantivy":
        if data_dir is None:
            raise ValueError("the tantivy engine needs data_dir")
        from search.tantivy_engine import TantivyEngine

        return TantivyEngine(data_dir)
    if kind == "meilisearch":
        if not url:
            raise ValueError("the meilisearch engine needs url")
        from search.meili_engine import MeilisearchEngine

        return MeilisearchEngine(url, api_key, index_prefix=index_prefix)
    raise ValueError(f"unknown search engine {kind!r}: use 'tantivy' or 'meilisearch'")
