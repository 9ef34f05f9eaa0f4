"""Exceptions raised by every search engine.

Callers handle two situations differently: the engine is down (retry later, the outbox keeps the
change) and the request itself is wrong (a 4xx for the client). Everything else is a `SearchError`.
"""

from __future__ import annotations


class SearchError(Exception):
    """Base class of all errors raised by `search/`."""


class SearchUnavailable(SearchError):
    """The engine is down, unreachable, or did not confirm a write in time."""


class InvalidQuery(SearchError, ValueError):
    """A malformed query: unknown filter, facet or sort field, bad value, bad paging.

    `field` names the offending field (or query parameter) so an API can point at it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidDocument(SearchError, ValueError):
    """A document the engine cannot store (missing or malformed primary key, bad value)."""

    def __init__(self, message: str, *, doc_id: str | None = None) -> None:
        super().__init__(message)
        self.doc_id = doc_id


class IndexNotFound(SearchError, LookupError):
    """The index was never created: call `ensure_index` first."""
