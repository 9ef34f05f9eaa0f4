"""Per-language analysis: which field of an index holds which language's text, and what each engine does with it.

An `IndexDefinition` may name a language for a searchable field (`languages={"text_de": "de"}`). Each engine
then analyses that field as its own tools for the language allow (search/README.md, "Languages"):

- tantivy: the default analyzer (split, lower-case, fold accents) followed by that language's Snowball stemmer,
  where tantivy has one. Query words are stemmed the same way for that field only.
- Meilisearch 1.21 has no stemmer: the field gets a `localizedAttributes` rule with the language's ISO 639-3
  locale, i.e. the language's own segmentation and normalisation (German compounds split, the Arabic article
  split off a word, Chinese segmented into words).

A language neither engine knows more about is still accepted: its field keeps the default analysis. This module
imports neither engine (nor NumPy): the tantivy analyzers are in search/text.py.
"""

from __future__ import annotations

import re

# A BCP 47 tag's primary language subtag (2-3 letters), then optional subtags: "de", "pt-BR", "zh-Hans-CN".
_TAG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

# tantivy's Snowball stemmers (tantivy::tokenizer::Language), by primary language subtag.
TANTIVY_STEMMERS: dict[str, str] = {
    "ar": "arabic",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nb": "norwegian",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}

# Meilisearch's locales (charabia's languages, ISO 639-3), by primary language subtag: the ones citymarket's
# thesaurus covers and their neighbours. Chinese is `cmn` (Mandarin), Norwegian Bokmål `nob`.
MEILISEARCH_LOCALES: dict[str, str] = {
    "ar": "ara",
    "da": "dan",
    "de": "deu",
    "el": "ell",
    "en": "eng",
    "es": "spa",
    "fi": "fin",
    "fr": "fra",
    "he": "heb",
    "hi": "hin",
    "hu": "hun",
    "it": "ita",
    "ja": "jpn",
    "ko": "kor",
    "nb": "nob",
    "nl": "nld",
    "no": "nob",
    "pl": "pol",
    "pt": "por",
    "ro": "ron",
    "ru": "rus",
    "sv": "swe",
    "th": "tha",
    "tr": "tur",
    "uk": "ukr",
    "zh": "cmn",
}


def primary_subtag(tag: str) -> str:
    """The lower-cased primary language of a BCP 47 tag ("pt-BR" -> "pt"); ValueError if it is not one."""
    if not isinstance(tag, str) or not _TAG_RE.match(tag):
        raise ValueError(f"invalid language tag {tag!r} (BCP 47, e.g. 'de' or 'pt-BR')")
    return tag.split("-", 1)[0].lower()


def stemmer_of(tag: str) -> str | None:
    return TANTIVY_STEMMERS.get(primary_subtag(tag))


def meilisearch_locale(tag: str) -> str | None:
    return MEILISEARCH_LOCALES.get(primary_subtag(tag))


def language_of_locale(locale: str) -> str | None:
    """The primary subtag a Meilisearch locale stands for (reading a definition back from its settings)."""
    return next((tag for tag, loc in MEILISEARCH_LOCALES.items() if loc == locale), None)


# The script of each non-Latin Meilisearch locale above (ISO 15924); the others are written in Latin.
_LOCALE_SCRIPTS = {
    "ara": "Arab",
    "cmn": "Hani",
    "ell": "Grek",
    "heb": "Hebr",
    "hin": "Deva",
    "jpn": "Jpan",
    "kor": "Kore",
    "rus": "Cyrl",
    "tha": "Thai",
    "ukr": "Cyrl",
}
# Unicode blocks of those scripts (the main ones): enough to tell which script a query is written in.
_SCRIPT_RANGES = (
    ("Arab", re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")),
    ("Hani", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")),
    ("Jpan", re.compile(r"[\u3040-\u30ff]")),
    ("Kore", re.compile(r"[\uac00-\ud7af]")),
    ("Cyrl", re.compile(r"[\u0400-\u04ff]")),
    ("Grek", re.compile(r"[\u0370-\u03ff]")),
    ("Hebr", re.compile(r"[\u0590-\u05ff]")),
    ("Deva", re.compile(r"[\u0900-\u097f]")),
    ("Thai", re.compile(r"[\u0e00-\u0e7f]")),
)


def script_of(text: str) -> str:
    """The script of a query: the first non-Latin script found in it, else Latin."""
    return next((script for script, pattern in _SCRIPT_RANGES if pattern.search(text)), "Latn")


# How Meilisearch is told to read a query in Latin script: as English, i.e. the default Latin segmentation (no
# German compound splitting). Synonyms are stored in that segmentation, so "intelligente Wasserzähler" still
# matches its thesaurus entry; documents are still segmented by their field's language.
LATIN_QUERY_LOCALE = "eng"


def locales_for_query(q: str, locales: list[str]) -> list[str]:
    """The `locales` to search with. Meilisearch needs them told: with locales of several scripts configured it
    may read an Arabic query as English, and then apply neither the Arabic segmentation nor the synonyms."""
    script = script_of(q)
    if script == "Latn":
        return [LATIN_QUERY_LOCALE]
    return [locale for locale in locales if _LOCALE_SCRIPTS.get(locale, "Latn") == script]
