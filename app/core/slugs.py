"""URL slugs for created objects: ASCII, lowercase, hyphenated, unique in their table."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

# NFKD decomposes accents but not these letters.
_LETTERS = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "å": "a", "Å": "A", "ß": "ss", "œ": "oe"})


def slugify(text: str, max_length: int = 100, fallback: str = "item") -> str:
    ascii_text = unicodedata.normalize("NFKD", text.translate(_LETTERS)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_length].strip("-")
    return slug or fallback


def free_slug(session: Session, column: Any, text: str, max_length: int = 100, fallback: str = "item") -> str:
    """`slugify(text)`, or with the first free `-2`, `-3`, ... suffix when taken in `column`'s table."""
    base = slugify(text, max_length - 6, fallback)
    taken = set(session.execute(sa.select(column).where(column.startswith(base, autoescape=True))).scalars().all())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
