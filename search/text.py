"""Tokenisation, query words and highlighted snippets (tantivy engine side).

The analyzer mirrors what Meilisearch does to Latin text: split on anything that is not a letter
or digit, lower-case, and fold accents (so "Zürich" is found by "zurich").
"""

from __future__ import annotations

import html
import itertools
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

import tantivy

from search.typo import MAX_TERM_CHARS, prefix_match_length

MAX_QUERY_WORDS = 10  # Meilisearch ignores words after the tenth
CROP_MARKER = "…"


def tokenizer_name(stemmer: str | None) -> str:
    """tantivy's registered name for a field's analyzer: one per stemmer, shared by every index."""
    return "cm_text" if stemmer is None else f"cm_text_{stemmer}"


def build_text_analyzer(stemmer: str | None = None) -> tantivy.TextAnalyzer:
    """The default analyzer, then the stemmer. Accents are folded *before* stemming so that a query word
    (which the default analyzer has already folded) stems to the very term the document's word did."""
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TERM_CHARS + 1))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )
    if stemmer is not None:
        builder = builder.filter(tantivy.Filter.stemmer(stemmer))
    return builder.build()


@cache
def _analyzer(stemmer: str) -> tantivy.TextAnalyzer:
    return build_text_analyzer(stemmer)


@lru_cache(maxsize=65536)  # query words are unbounded; the common ones stay
def stem(stemmer: str, word: str) -> str:
    """One normalised query word (search.text.query_words) as the stemmed field indexed it."""
    tokens = _analyzer(stemmer).analyze(word)
    return tokens[0] if len(tokens) == 1 else word


TEXT_ANALYZER = build_text_analyzer()


def analyze(text: str) -> list[str]:
    return list(TEXT_ANALYZER.analyze(text))


@dataclass(frozen=True)
class Tokens:
    """A text's tokens as the analyzer makes them: normalised texts and character offsets, as parallel lists
    (one object per text, not per token: highlighting tokenizes every hit's fields on each search)."""

    texts: list[str]
    starts: list[int]  # character offsets into the original string
    ends: list[int]


# On ASCII text the analyzer splits on anything but [A-Za-z0-9], lower-cases, and drops tokens longer than
# MAX_TERM_CHARS (accent folding changes nothing there): one split in C gives texts and offsets alike.
_ASCII_SPLIT = re.compile(r"([a-z0-9]+)")


def tokenize(text: str) -> Tokens:
    if text.isascii():
        parts = _ASCII_SPLIT.split(text.lower())  # separator, token, separator, ..., separator
        texts = parts[1::2]
        if max(map(len, texts), default=0) <= MAX_TERM_CHARS:
            bounds = list(itertools.accumulate(map(len, parts)))
            return Tokens(texts, bounds[0::2][: len(texts)], bounds[1::2])
    tokens = TEXT_ANALYZER.pre_tokenize(text).tokens
    return Tokens([t.text for t in tokens], [t.char_offset_from for t in tokens], [t.char_offset_to for t in tokens])


@dataclass(frozen=True)
class QueryWords:
    words: tuple[str, ...]
    last_is_prefix: bool


def query_words(q: str) -> QueryWords:
    """The normalised words of a query; the last one is a prefix unless the query ends with a separator."""
    every = analyze(q)
    words = every[:MAX_QUERY_WORDS]
    # "filt" finds "filtration", "filt " does not (Meilisearch treats a trailing separator as a full word).
    last_is_prefix = bool(words) and len(every) <= MAX_QUERY_WORDS and q[-1:].isalnum()
    return QueryWords(tuple(words), last_is_prefix)


def synonym_table(synonyms: Mapping[str, Sequence[str]]) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """Synonym keys and targets as token tuples, so multi-word entries match word sequences."""
    table: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for key, targets in synonyms.items():
        key_tokens = tuple(analyze(key))
        if not key_tokens:
            continue
        alts = table.setdefault(key_tokens, [])
        for target in targets:
            tokens = tuple(analyze(target))
            if tokens and tokens != key_tokens and tokens not in alts:
                alts.append(tokens)
    return table


_TABLES: dict[int, tuple[Mapping[str, Sequence[str]], dict[tuple[str, ...], list[tuple[str, ...]]]]] = {}


def cached_synonym_table(synonyms: Mapping[str, Sequence[str]]) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """`synonym_table` of this very mapping (an index definition's, which is immutable once made), built once:
    analysing every entry costs milliseconds with a multilingual thesaurus, too much for each query."""
    entry = _TABLES.get(id(synonyms))
    if entry is not None and entry[0] is synonyms:
        return entry[1]
    if len(_TABLES) > 64:  # definitions are few; a process that makes many does not grow this forever
        _TABLES.clear()
    table = synonym_table(synonyms)
    _TABLES[id(synonyms)] = (synonyms, table)
    return table


def synonym_alternatives(
    words: Sequence[str], table: Mapping[tuple[str, ...], Sequence[tuple[str, ...]]]
) -> list[list[tuple[str, ...]]]:
    """For each query word, the alternative phrases of every synonym span that covers it."""
    per_word: list[list[tuple[str, ...]]] = [[] for _ in words]
    if not table:
        return per_word
    longest = max(len(k) for k in table)
    for start in range(len(words)):
        for length in range(1, min(longest, len(words) - start) + 1):
            alts = table.get(tuple(words[start : start + length]))
            if not alts:
                continue
            for pos in range(start, start + length):
                per_word[pos].extend(a for a in alts if a not in per_word[pos])
    return per_word


@dataclass
class Matcher:
    """Which document tokens a query matched, for highlighting.

    `terms`: whole-word matches (term -> query word index). `prefix_terms`/`prefix`: matches of
    the last word, highlighted over the query word's length as Meilisearch does ("<mark>Filt</mark>ration").
    `phrases`: synonym phrases, highlighted as one span.
    """

    terms: dict[str, int] = field(default_factory=dict)
    prefix_word: int = -1
    prefix: str = ""
    prefix_terms: set[str] = field(default_factory=set)
    phrases: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    def may_match(self, lowered_ascii: str) -> bool:
        """False when no token of this (ASCII, lower-cased) text can match: every match is a substring of it
        (on ASCII the analyzer only splits and lower-cases), so a text holding none of them is skipped
        without tokenizing it."""
        if self.prefix_word >= 0 and self.prefix in lowered_ascii:
            return True
        needles = itertools.chain(self.terms, self.prefix_terms, (phrase[0] for phrase, _ in self.phrases))
        return any(needle in lowered_ascii for needle in needles)

    def _prefix_match(self, token: str) -> bool:
        return self.prefix_word >= 0 and (token in self.prefix_terms or token.startswith(self.prefix))

    def marks(self, texts: Sequence[str]) -> list[tuple[int, int, int, int]]:
        """(first token, last token, chars to mark of the last token or -1 for all, word index)."""
        by_first: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for phrase, word in sorted(self.phrases, key=lambda p: -len(p[0])):
            by_first.setdefault(phrase[0], []).append((phrase, word))
        out: list[tuple[int, int, int, int]] = []
        # Most tokens match nothing: find the few that may among the distinct tokens, then their places, with
        # set operations and C-level iteration (a Python loop over every token of every hit's body costs more
        # than the rest of a search), before the per-token rules below.
        distinct = set(texts)
        hits = distinct & (self.terms.keys() | self.prefix_terms | by_first.keys())
        if self.prefix_word >= 0:
            hits.update(filter(operator.methodcaller("startswith", self.prefix), distinct - hits))
        if not hits:
            return out
        found = itertools.compress(range(len(texts)), map(hits.__contains__, texts))
        free = 0  # the first token not inside a phrase already marked
        for i in found:
            if i < free:
                continue
            text = texts[i]
            phrase_hit = next((pw for pw in by_first.get(text, ()) if tuple(texts[i : i + len(pw[0])]) == pw[0]), None)
            if phrase_hit is not None and len(phrase_hit[0]) > 1:
                out.append((i, i + len(phrase_hit[0]) - 1, -1, phrase_hit[1]))
                free = i + len(phrase_hit[0])
                continue
            if text in self.terms:
                out.append((i, i, -1, self.terms[text]))
            elif self._prefix_match(text):
                out.append((i, i, prefix_match_length(self.prefix, text), self.prefix_word))
            elif phrase_hit is not None:
                out.append((i, i, -1, phrase_hit[1]))
        return out


def snippet(text: str, matcher: Matcher, crop_words: int) -> str | None:
    """HTML-escaped text with `<mark>` around matches, cropped around the best window; None if no match."""
    if text.isascii() and not matcher.may_match(text.lower()):
        return None
    tokens = tokenize(text)
    marks = matcher.marks(tokens.texts)
    if not marks:
        return None
    n_tokens = len(tokens.texts)
    first, last = 0, n_tokens - 1
    if n_tokens > crop_words:
        first, last = _best_window(n_tokens, marks, crop_words)
    start_char = tokens.starts[first] if first > 0 else 0
    end_char = tokens.ends[last] if last < n_tokens - 1 else len(text)
    pieces: list[str] = [CROP_MARKER] if first > 0 else []
    cursor = start_char
    for m_first, m_last, partial, _ in marks:
        if m_first < first or m_last > last:
            continue
        begin = tokens.starts[m_first]
        finish = tokens.ends[m_last]
        if partial >= 0:
            finish = min(finish, begin + partial)
        pieces.append(html.escape(text[cursor:begin], quote=False))
        pieces.append("<mark>" + html.escape(text[begin:finish], quote=False) + "</mark>")
        cursor = finish
    pieces.append(html.escape(text[cursor:end_char], quote=False))
    if last < n_tokens - 1:
        pieces.append(CROP_MARKER)
    return "".join(pieces)


def _best_window(n_tokens: int, marks: Sequence[tuple[int, int, int, int]], size: int) -> tuple[int, int]:
    """The window of `size` tokens with the most distinct matched words (then most marks), centred."""
    best: tuple[int, int] = (-1, -1)
    best_start = 0
    starts = sorted({m[0] for m in marks})
    for start in starts:
        inside = [m for m in marks if m[0] >= start and m[1] < start + size]
        score = (len({m[3] for m in inside}), len(inside))
        if score > best:
            best, best_start = score, start
    inside = [m for m in marks if m[0] >= best_start and m[1] < best_start + size]
    span_end = max(m[1] for m in inside) if inside else best_start
    # Centre the matches: give the words before the first match half the slack.
    slack = size - (span_end - best_start + 1)
    first = max(0, best_start - slack // 2)
    last = min(n_tokens - 1, first + size - 1)
    first = max(0, last - size + 1)
    return first, last


def join_snippets(parts: Iterable[str | None]) -> str | None:
    """A list-valued field highlights as its matching items joined by the crop marker."""
    found = [p for p in parts if p]
    return f" {CROP_MARKER} ".join(found) if found else None
