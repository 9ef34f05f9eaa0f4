"""Index definitions: what the app hands to an engine, with no knowledge of database models."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from search.languages import primary_subtag

# Meilisearch index uids and document ids allow exactly these characters; we hold tantivy to the same.
_INDEX_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
# Plain identifiers keep filter expressions and tantivy field names unambiguous (no dots, no spaces).
_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")

# Domain synonym groups: every entry of a group finds the others (multi-word entries allowed).
DEFAULT_SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("pm2.5", "pm10", "fine dust", "particulate matter", "fine particles"),
    ("air quality", "air pollution"),
    ("e-mobility", "electric vehicles", "electric vehicle", "ev", "electromobility"),
    ("ev charging", "charging stations", "charge points"),
    ("non-revenue water", "water loss", "leakage", "nrw"),
    ("smart meter", "smart meters", "ami", "advanced metering infrastructure", "smart metering"),
    ("iot", "internet of things"),
    ("photovoltaics", "pv", "solar panels"),
    ("bike sharing", "bicycle sharing", "cycle hire"),
    ("street lighting", "streetlights", "public lighting"),
    ("district heating", "heat network"),
    ("greenhouse gas", "ghg", "carbon emissions", "co2 emissions"),
    ("waste collection", "refuse collection"),
    ("wi-fi", "wifi", "wireless broadband"),
)


def normalize_synonym_key(text: str) -> str:
    """Lower-case and collapse whitespace: the form both engines store synonyms in."""
    return " ".join(text.lower().split())


def synonyms_from_groups(groups: Iterable[Iterable[str]]) -> dict[str, list[str]]:
    """Expand groups into the one-way mapping Meilisearch uses: each entry maps to all others."""
    out: dict[str, list[str]] = {}
    for group in groups:
        entries = list(dict.fromkeys(normalize_synonym_key(e) for e in group if e.strip()))
        for entry in entries:
            targets = out.setdefault(entry, [])
            for other in entries:
                if other != entry and other not in targets:
                    targets.append(other)
    return out


DEFAULT_SYNONYMS: dict[str, list[str]] = synonyms_from_groups(DEFAULT_SYNONYM_GROUPS)


def _mutual(synonyms: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Normalised synonyms in both directions (Meilisearch applies them one way only)."""
    pairs: dict[str, list[str]] = {}
    for key, values in synonyms.items():
        if isinstance(values, str):
            raise TypeError(f"synonyms[{key!r}] must be a list of strings")
        source = normalize_synonym_key(key)
        for value in values:
            target = normalize_synonym_key(value)
            if not source or not target or source == target:
                continue
            for a, b in ((source, target), (target, source)):
                targets = pairs.setdefault(a, [])
                if b not in targets:
                    targets.append(b)
    return {k: tuple(v) for k, v in sorted(pairs.items())}


def _languages(languages: Mapping[str, str], searchable: Sequence[str]) -> dict[str, str]:
    """Checked and sorted: only searchable fields, each with a BCP 47 tag."""
    if missing := set(languages) - set(searchable):
        raise ValueError(f"languages name fields that are not searchable: {sorted(missing)}")
    for tag in languages.values():
        primary_subtag(tag)  # raises ValueError on a malformed tag
    return dict(sorted(languages.items()))


def _names(value: Sequence[str] | str, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"{what} must be a sequence of field names, not a string")
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or not _FIELD_RE.match(name):
            raise ValueError(f"{what}: invalid field name {name!r} (letters, digits and _ only)")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: duplicate field names in {names!r}")
    return names


@dataclass(frozen=True)
class IndexDefinition:
    """How one kind of document is indexed.

    `searchable` is in ranked order: a match in an earlier field ranks higher (Meilisearch's
    `attribute` rule). `facets` must be a subset of `filterable`, `highlight` of `searchable`.
    `synonyms` maps a word or phrase to the words/phrases it also finds; it is made symmetric
    (if `a` finds `b`, `b` finds `a`) and lower-cased. Build it from groups with
    `synonyms_from_groups`, e.g. `DEFAULT_SYNONYMS`.
    """

    name: str
    primary_key: str = "id"
    searchable: Sequence[str] = ()
    filterable: Sequence[str] = ()
    facets: Sequence[str] = ()
    sortable: Sequence[str] = ()
    synonyms: Mapping[str, Sequence[str]] = field(default_factory=dict, hash=False)
    highlight: Sequence[str] = ()
    # Searchable field -> BCP 47 language of its text: analysed with that language's tools (search/languages.py).
    languages: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not _INDEX_NAME_RE.match(self.name):
            raise ValueError(f"invalid index name {self.name!r}: use [A-Za-z0-9_-]")
        if not _FIELD_RE.match(self.primary_key):
            raise ValueError(f"invalid primary key {self.primary_key!r}")
        # Normalise to tuples so the definition is immutable and comparable.
        for attr in ("searchable", "filterable", "facets", "sortable", "highlight"):
            object.__setattr__(self, attr, _names(getattr(self, attr), attr))
        if not self.searchable:
            raise ValueError("an index needs at least one searchable field")
        if missing := set(self.facets) - set(self.filterable):
            raise ValueError(f"facets must be filterable: {sorted(missing)}")
        if missing := set(self.highlight) - set(self.searchable):
            raise ValueError(f"highlight fields must be searchable: {sorted(missing)}")
        object.__setattr__(self, "synonyms", _mutual(self.synonyms))
        object.__setattr__(self, "languages", _languages(self.languages, self.searchable))

    def schema_fingerprint(self) -> dict[str, object]:
        """The parts that decide how documents are stored (a change needs a reindex)."""
        return {
            "primary_key": self.primary_key,
            "searchable": list(self.searchable),
            "filterable": list(self.filterable),
            "sortable": list(self.sortable),
            "languages": dict(self.languages),  # a field's analyzer decides its terms
        }

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "primary_key": self.primary_key,
            "searchable": list(self.searchable),
            "filterable": list(self.filterable),
            "facets": list(self.facets),
            "sortable": list(self.sortable),
            "synonyms": {k: list(v) for k, v in self.synonyms.items()},
            "highlight": list(self.highlight),
            "languages": dict(self.languages),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> IndexDefinition:
        def names(key: str) -> tuple[str, ...]:
            value = data.get(key, ())
            if not isinstance(value, list | tuple):
                raise ValueError(f"{key} must be a list")
            return tuple(str(v) for v in value)

        raw_syn = data.get("synonyms", {})
        synonyms = (
            {str(k): [str(x) for x in v] for k, v in raw_syn.items() if isinstance(v, list)}
            if isinstance(raw_syn, dict)
            else {}
        )
        raw_lang = data.get("languages", {})
        languages = {str(k): str(v) for k, v in raw_lang.items()} if isinstance(raw_lang, dict) else {}
        return cls(
            name=str(data["name"]),
            primary_key=str(data.get("primary_key", "id")),
            searchable=names("searchable"),
            filterable=names("filterable"),
            facets=names("facets"),
            sortable=names("sortable"),
            synonyms=synonyms,
            highlight=names("highlight"),
            languages=languages,
        )
