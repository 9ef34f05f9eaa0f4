"""The one type of every integer id a caller sends: REST's path and query parameters and bodies.

Ids are INTEGER columns: 64-bit on SQLite, but 32-bit on PostgreSQL, where a larger number fails in the
driver ("integer out of range", a 500), as 2**63 and more did on SQLite (OverflowError). So the bound is the
narrower one, 2**31 - 1, on both databases: a larger id is refused as invalid input (422) before any query,
and the OpenAPI document says so. GraphQL's `Int` is 32-bit by the spec: the same bound.

Versions (the numbers in ETags) are BIGINT: a benchmark's version is a microsecond timestamp. They are parsed
with their own, 64-bit bound.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

MAX_ID = 2**31 - 1
MAX_VERSION = 2**63 - 1

# Carries its bounds into FastAPI's Path/Query (which add the description) and into Pydantic models alike.
Id = Annotated[int, Ge(1), Le(MAX_ID)]


def parse_bounded(digits: str) -> int | None:
    """The version ASCII `digits` spell when it fits a BIGINT (versions in ETags), else None."""
    # Length first: int() of thousands of digits is slow, and refused above 4,300 (ValueError).
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_VERSION)):
        return None
    number = int(digits)
    return number if number <= MAX_VERSION else None
