"""The typo lookup behind the tantivy engine, against a plain reference implementation."""

from __future__ import annotations

import random

import pytest

from search.typo import Vocabulary, _encode, max_typos, osa_distances, prefix_match_length

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)


def reference_osa(a: str, b: str) -> list[list[int]]:
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d


def test_vectorised_distances_match_the_reference() -> None:
    rng = random.Random(3)
    terms = ["".join(rng.choice("abcd") for _ in range(rng.randint(1, 9))) for _ in range(400)]
    codes, lengths = _encode(terms)
    for _ in range(60):
        word = "".join(rng.choice("abcd") for _ in range(rng.randint(1, 9)))
        full = osa_distances(word, codes, lengths, prefix=False)
        prefix = osa_distances(word, codes, lengths, prefix=True)
        for term, f, p in zip(terms, full.tolist(), prefix.tolist(), strict=True):
            table = reference_osa(word, term)
            assert f == table[len(word)][len(term)], (word, term)
            assert p == min(table[len(word)][j] for j in range(len(term) + 1)), (word, term)


@pytest.mark.parametrize(("word", "budget"), [("bike", 0), ("water", 1), ("stuttgar", 1), ("stuttgart", 2)])
def test_budget_by_length(word: str, budget: int) -> None:
    assert max_typos(word) == budget


VOCAB = Vocabulary(["stuttgart", "tuttgart", "filtration", "sensors", "bike", "water", "waters", "fleets"])


@pytest.mark.parametrize(
    ("word", "prefix", "expected"),
    [
        ("stuttgart", False, {"stuttgart": 0, "tuttgart": 2}),  # dropping the first letter costs 2
        ("stuttgrat", False, {"stuttgart": 1}),  # a swap is one typo
        ("tuttgart", False, {"tuttgart": 0}),  # 8 letters: "stuttgart" would need a first-letter typo
        ("xtuttgart", False, {"stuttgart": 2, "tuttgart": 2}),
        ("sensros", False, {"sensors": 1}),
        ("bkie", False, {}),
        ("filt", True, {"filtration": 0}),
        ("filt", False, {}),
        ("filtrst", True, {"filtration": 1}),
        ("water", True, {"water": 0, "waters": 0}),
        ("watr", True, {}),  # 4 letters: no typo even as a prefix
    ],
)
def test_candidates(word: str, prefix: bool, expected: dict[str, int]) -> None:
    assert VOCAB.candidates(word, prefix=prefix) == expected


@pytest.mark.parametrize(
    ("word", "token", "length"),
    [("filt", "filtration", 4), ("fleest", "fleets", 5), ("stuttgrt", "stuttgart", 8), ("water", "water", 5)],
)
def test_prefix_highlight_length(word: str, token: str, length: int) -> None:
    assert prefix_match_length(word, token) == length


def test_with_terms_equals_a_vocabulary_built_with_them() -> None:
    """The tantivy engine extends its vocabulary with a write's words before rebuilding it (search/tantivy_engine.py
    `_write`): the extended one must find what one built from scratch finds, and leave the original as it was."""
    rng = random.Random(16)

    def words(n: int) -> set[str]:
        return {"".join(rng.choice("abcdeé") for _ in range(rng.randint(1, 10))) for _ in range(n)}

    for _ in range(100):
        base, extra = words(300), words(20)
        before = Vocabulary(base)
        before.candidates("abcde", prefix=True)  # buckets built before the extension are not reused stale
        extended, fresh = before.with_terms(extra), Vocabulary(base | extra)
        for word in ["abcde", "abcdeab", "bacdeabcd", "eabcdabce", "a", "abc", *sorted(extra)[:3]]:
            for prefix in (False, True):
                assert extended.candidates(word, prefix=prefix) == fresh.candidates(word, prefix=prefix), word
        assert len(extended) == len(fresh)
        assert all(t in extended for t in extra)
        assert len(before) == len(Vocabulary(base))
        assert before.with_terms(sorted(base)[:5]) is before
