"""Highlighting's tokenizer (search/text.py `tokenize`) gives the very tokens and offsets the index analyzer does:
its ASCII shortcut must not drift from tantivy's simple tokenizer, lower-casing, folding and long-token removal."""

from __future__ import annotations

import random
import string

import pytest

from search.text import MAX_TERM_CHARS, TEXT_ANALYZER, tokenize

pytestmark = pytest.mark.database_free

ALPHABET = string.ascii_letters + string.digits + " .,-'\"!?\t\n()/_+&<>"


def analyzer_tokens(text: str) -> tuple[list[str], list[int], list[int]]:
    pre = TEXT_ANALYZER.pre_tokenize(text).tokens
    return [t.text for t in pre], [t.char_offset_from for t in pre], [t.char_offset_to for t in pre]


def random_text(rng: random.Random, extra: str = "") -> str:
    text = "".join(rng.choice(ALPHABET + extra) for _ in range(rng.randint(0, 120)))
    if rng.random() < 0.2:  # a token around the length the analyzer drops
        text += rng.choice(" x.") + "y" * rng.randint(MAX_TERM_CHARS - 2, MAX_TERM_CHARS + 2) + rng.choice(" .z")
    return text


@pytest.mark.parametrize("extra", ["", "éÜßøæñ中文Ωя"], ids=["ascii", "unicode"])
def test_tokens_and_offsets_are_the_analyzers(extra: str) -> None:
    rng = random.Random(14)
    for _ in range(3000):
        text = random_text(rng, extra)
        got = tokenize(text)
        assert (got.texts, got.starts, got.ends) == analyzer_tokens(text), text


def test_fixed_examples() -> None:
    for text in ["Zürich PM2.5 fine-dust", "Leak DETECTION, (NRW) 2024", "", "  ", "a" * 65 + " b", "x" * 64]:
        got = tokenize(text)
        assert (got.texts, got.starts, got.ends) == analyzer_tokens(text), text
    assert tokenize("Fine-dust PM2.5").texts == ["fine", "dust", "pm2", "5"]
