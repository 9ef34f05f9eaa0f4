"""The one type of every integer id a caller sends: REST's path and query parameters and bodies.

SQLite's INTEGER (and PostgreSQL's bigint) holds at most 2**63 - 1: a larger id reached the driver and
failed there (OverflowError, a 500). Bounded in the schema, it is refused as invalid input (422) before any
query, and the OpenAPI document says so. GraphQL's `Int` is 32-bit by the spec, bounded already.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

MAX_ID = 2**63 - 1

# Carries its bounds into FastAPI's Path/Query (which add the description) and into Pydantic models alike.
Id = Annotated[int, Ge(1), Le(MAX_ID)]


def parse_bounded(digits: str) -> int | None:
    """The number ASCII `digits` spell when it fits the database's INTEGER (versions in ETags), else None."""
    # Length first: int() of thousands of digits is slow, and refused above 4,300 (ValueError).
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_ID)):
        return None
    number = int(digits)
    return number if number <= MAX_ID else None
