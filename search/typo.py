"""Typo-tolerant term lookup with Meilisearch's rules, for the tantivy engine.

tantivy's fuzzy queries cannot express two of Meilisearch's rules (a typo on the first letter costs
two, and the typo count decides the ranking), so we expand each query word into the index terms it
matches ourselves, with the number of typos each costs, and query those terms exactly.

Rules (Meilisearch 1.x, `minWordSizeForTypos` oneTypo=5 twoTypos=9): a word of fewer than 5
characters matches exactly, 5-8 characters allows 1 typo, 9 or more allows 2. Distance is
Damerau-Levenshtein (optimal string alignment: a transposition is one typo). A term whose first
letter differs costs 2 typos, so it can match only words of 9+ characters and only when that first
letter is the only edit. In prefix mode (the last query word) the word may match any prefix of a
term with the same budget.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ONE_TYPO_MIN_CHARS = 5
TWO_TYPOS_MIN_CHARS = 9
MAX_TERM_CHARS = 64  # longer tokens are dropped by the analyzer anyway
_CACHE_SIZE = 4096
_HIGH = "\U0010ffff"

IntArray = npt.NDArray[np.int32]


def max_typos(word: str) -> int:
    n = len(word)
    if n >= TWO_TYPOS_MIN_CHARS:
        return 2
    if n >= ONE_TYPO_MIN_CHARS:
        return 1
    return 0


@dataclass(frozen=True)
class _Bucket:
    """All terms sharing a first character, as a padded code-point matrix for vectorised DP."""

    terms: list[str]
    codes: IntArray  # (n_terms, width), -1 padded
    lengths: IntArray  # (n_terms,)


def _encode(terms: list[str]) -> tuple[IntArray, IntArray]:
    width = max((len(t) for t in terms), default=1)
    codes = np.full((len(terms), max(width, 1)), -1, dtype=np.int32)
    lengths = np.zeros(len(terms), dtype=np.int32)
    for row, term in enumerate(terms):
        points = np.frombuffer(term.encode("utf-32-le"), dtype=np.uint32).astype(np.int32)
        codes[row, : len(points)] = points
        lengths[row] = len(points)
    return codes, lengths


def osa_distances(word: str, codes: IntArray, lengths: IntArray, *, prefix: bool) -> IntArray:
    """Optimal-string-alignment distance from `word` to every row of `codes`.

    With `prefix`, the distance to the closest prefix of each term. The DP runs one query
    character at a time over all terms at once; insertions along a row are a running minimum.
    """
    n_terms, width = codes.shape
    query = np.frombuffer(word.encode("utf-32-le"), dtype=np.uint32).astype(np.int32)
    cols = np.arange(width + 1, dtype=np.int32)
    prev2: IntArray | None = None
    prev: IntArray = np.broadcast_to(cols, (n_terms, width + 1)).copy()
    for i in range(1, len(query) + 1):
        qi = query[i - 1]
        cur = np.empty_like(prev)
        cur[:, 0] = i
        np.minimum(prev[:, :-1] + (codes != qi), prev[:, 1:] + 1, out=cur[:, 1:])
        if prev2 is not None and width >= 2:
            swap = (codes[:, :-1] == qi) & (codes[:, 1:] == query[i - 2])
            cur[:, 2:] = np.where(swap, np.minimum(cur[:, 2:], prev2[:, :-2] + 1), cur[:, 2:])
        cur = np.minimum.accumulate(cur - cols, axis=1) + cols
        prev2, prev = prev, cur
    if prefix:
        masked = np.where(cols[None, :] <= lengths[:, None], prev, np.int32(1 << 20))
        out: IntArray = masked.min(axis=1)
        return out
    picked: IntArray = prev[np.arange(n_terms), lengths]
    return picked


class Vocabulary:
    """The distinct terms of an index's searchable fields, with typo-tolerant lookup."""

    def __init__(self, terms: Iterable[str]) -> None:
        self._terms = sorted({t for t in terms if t and len(t) <= MAX_TERM_CHARS})
        self._set = frozenset(self._terms)
        pairs = sorted((t[1:], t) for t in self._terms)
        self._tails = [p[0] for p in pairs]
        self._tail_terms = [p[1] for p in pairs]
        self._buckets: dict[str, _Bucket] = {}
        self._cache: dict[tuple[str, bool], dict[str, int]] = {}

    def __len__(self) -> int:
        return len(self._terms)

    def with_terms(self, terms: Iterable[str]) -> Vocabulary:
        """This vocabulary and `terms`: itself when it holds them all (a new document's words are mostly known
        already), else a copy with them inserted (this one stays as it is for the searches holding it)."""
        new = sorted({t for t in terms if t and len(t) <= MAX_TERM_CHARS and t not in self._set})
        if not new:
            return self
        out = Vocabulary(())
        out._terms = list(self._terms)
        out._tails, out._tail_terms = list(self._tails), list(self._tail_terms)
        for term in new:
            bisect.insort(out._terms, term)
            at = bisect.bisect_left(out._tails, term[1:])
            while at < len(out._tails) and out._tails[at] == term[1:] and out._tail_terms[at] < term:
                at += 1
            out._tails.insert(at, term[1:])
            out._tail_terms.insert(at, term)
        out._set = self._set.union(new)
        touched = {term[0] for term in new}
        out._buckets = {first: b for first, b in self._buckets.items() if first not in touched}
        return out

    def __contains__(self, term: object) -> bool:
        return term in self._set

    def with_prefix(self, prefix: str) -> list[str]:
        lo = bisect.bisect_left(self._terms, prefix)
        hi = bisect.bisect_left(self._terms, prefix + _HIGH, lo)
        return self._terms[lo:hi]

    def _tail_range(self, tail: str, *, prefix: bool) -> list[str]:
        lo = bisect.bisect_left(self._tails, tail)
        hi = bisect.bisect_left(self._tails, tail + _HIGH if prefix else tail + "\0", lo)
        return self._tail_terms[lo:hi]

    def _bucket(self, first: str) -> _Bucket:
        bucket = self._buckets.get(first)
        if bucket is None:
            terms = self.with_prefix(first)
            codes, lengths = _encode(terms)
            bucket = _Bucket(terms, codes, lengths)
            self._buckets[first] = bucket
        return bucket

    def candidates(self, word: str, *, prefix: bool) -> dict[str, int]:
        """Terms `word` matches, each with its typo count (0, 1 or 2)."""
        key = (word, prefix)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._compute(word, prefix=prefix)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = result
        return result

    def _compute(self, word: str, *, prefix: bool) -> dict[str, int]:
        budget = max_typos(word)
        if not word or len(word) > MAX_TERM_CHARS:
            return {}
        if budget == 0:
            if prefix:
                return dict.fromkeys(self.with_prefix(word), 0)
            return {word: 0} if word in self._set else {}
        out: dict[str, int] = {}
        bucket = self._bucket(word[0])
        if bucket.terms:
            n = len(word)
            if prefix:
                keep = bucket.lengths >= n - budget
                width = min(bucket.codes.shape[1], n + budget)
            else:
                keep = np.abs(bucket.lengths - n) <= budget
                width = min(bucket.codes.shape[1], n + budget)
            rows = np.nonzero(keep)[0]
            if rows.size:
                codes = bucket.codes[rows, :width]
                lengths = np.minimum(bucket.lengths[rows], width)
                dist = osa_distances(word, codes, lengths, prefix=prefix)
                for row, d in zip(rows[dist <= budget].tolist(), dist[dist <= budget].tolist(), strict=True):
                    out[bucket.terms[row]] = int(d)
        if budget >= 2:
            # First letter wrong: costs 2, so it must be the only edit (substitution, deletion,
            # insertion before it, or swap with the second letter).
            first = word[0]
            lookups = [
                *self._tail_range(word[1:], prefix=prefix),  # substitution
                *self._tail_range(word, prefix=prefix),  # insertion before the first letter
                *self._exact_or_prefix(word[1:], prefix=prefix),  # deletion
                *self._exact_or_prefix(word[1] + word[0] + word[2:], prefix=prefix),  # swap
            ]
            for term in lookups:
                if term[0] != first:
                    out.setdefault(term, 2)
        return out

    def _exact_or_prefix(self, text: str, *, prefix: bool) -> list[str]:
        if prefix:
            return self.with_prefix(text)
        return [text] if text in self._set else []


@functools.lru_cache(maxsize=4096)
def prefix_match_length(word: str, token: str) -> int:
    """How many characters of `token` a prefix match of `word` covers, for highlighting.

    Matches what Meilisearch 1.21 marks: the token prefix at the smallest (plain Levenshtein)
    distance from the word, the one closest in length to the word on ties, capped at the word's
    length ("filt" marks "<mark>filt</mark>ration", "fleest" marks "<mark>fleet</mark>s").
    """
    n = len(word)
    row = list(range(n + 1))  # distances from token[:j] to word[:i], for the current j
    best = (row[n], n, 0)  # (distance, |j - n|, j)
    for j in range(1, len(token) + 1):
        cur = [j] + [0] * n
        for i in range(1, n + 1):
            cost = 0 if word[i - 1] == token[j - 1] else 1
            cur[i] = min(row[i] + 1, cur[i - 1] + 1, row[i - 1] + cost)
        best = min(best, (cur[n], abs(j - n), j))
        row = cur
    return min(best[2], n)
