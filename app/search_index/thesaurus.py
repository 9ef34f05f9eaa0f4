"""The multilingual thesaurus as search synonyms for the catalogue's indexes (docs/architecture.md §6, "Search
across languages").

The thesaurus is data in the database (`thesaurus_concept`, `thesaurus_term`), seeded from
seeds/data/thesaurus.yaml by the migration that made its tables and edited by admins
(app/search_index/thesaurus_service.py, called by both faces). Each concept's terms, in every language, become
one synonym group, merged with the built-in English group it shares a term with (so `Wasserverlust` also finds
what `non-revenue water` finds). Both engines get the same synonyms through the index definitions: an edit
writes a search-outbox row, and the indexer pushes the database's synonyms to the engines
(app/search_index/indexer.py), retrying while one is down. This module reads the seed file (the engine tests'
thesaurus) and merges groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from search.definitions import DEFAULT_SYNONYM_GROUPS, normalize_synonym_key, synonyms_from_groups

THESAURUS_FILE = Path(__file__).resolve().parents[2] / "seeds" / "data" / "thesaurus.yaml"


def thesaurus_groups(path: Path = THESAURUS_FILE) -> list[tuple[str, ...]]:
    """One tuple of terms per concept, every language together."""
    loaded: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [tuple(term for terms in entry["terms"].values() for term in terms) for entry in loaded]


def merge_groups(groups: Iterable[Sequence[str]]) -> list[tuple[str, ...]]:
    """Groups sharing a (normalised) term become one, in first-seen order."""
    merged: list[list[str]] = []
    for group in groups:
        terms = list(dict.fromkeys(normalize_synonym_key(t) for t in group if t.strip()))
        overlapping = [m for m in merged if set(m) & set(terms)]
        target = overlapping[0] if overlapping else []
        if not overlapping:
            merged.append(target)
        for other in overlapping[1:]:
            target.extend(t for t in other if t not in target)
            merged.remove(other)
        target.extend(t for t in terms if t not in target)
    return [tuple(m) for m in merged]


@cache
def catalogue_synonyms() -> dict[str, list[str]]:
    """The seed file's synonyms: what the database holds until an admin edits it (the engine tests use it)."""
    return synonyms_from_groups(merge_groups([*DEFAULT_SYNONYM_GROUPS, *thesaurus_groups()]))
