"""Keyset pagination over every kind of sort key, dates and datetimes included."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from app.challenges.models import Challenge
from app.cities.models import City
from app.core.errors import InvalidInput
from app.core.pagination import PageRequest, SortKey, encode_cursor, paginate
from tests.conftest import StatementCounter


def _walk(session: Session, statement: sa.Select[tuple[object]], keys: list[SortKey], limit: int) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = paginate(session, statement, keys, PageRequest(limit=limit, cursor=cursor))
        seen += [row.id for row in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_datetime_and_date_keys_page_to_the_end(engine: sa.Engine) -> None:
    with Session(engine) as session:
        cities = list(session.exec(select(City)).all())
        by_created = _walk(session, select(City), [SortKey(City.created_at, descending=True), SortKey(City.id)], 4)  # type: ignore[arg-type]
        expected = [c.id for c in sorted(cities, key=lambda c: (-c.created_at.timestamp(), c.id))]
        assert by_created == expected
        challenges = list(session.exec(select(Challenge)).all())
        by_deadline = _walk(session, select(Challenge), [SortKey(Challenge.deadline), SortKey(Challenge.id)], 1)  # type: ignore[arg-type]
        assert by_deadline == [c.id for c in sorted(challenges, key=lambda c: (c.deadline, c.id))]


def test_a_cursor_with_a_bad_date_is_a_client_error(engine: sa.Engine) -> None:
    with Session(engine) as session:
        keys = [SortKey(Challenge.deadline), SortKey(Challenge.id)]  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="cursor"):
            paginate(session, select(Challenge), keys, PageRequest(limit=1, cursor=encode_cursor(["not-a-date", 1])))


def test_a_first_page_holding_every_row_is_its_own_total(
    engine: sa.Engine, count_statements: type[StatementCounter]
) -> None:
    """Without a cursor and with nothing past the limit, the page's length is the exact total (no COUNT); a page
    that does not hold every row still counts them."""
    keys = [SortKey(City.id)]  # type: ignore[arg-type]
    with Session(engine) as session:
        everything = len(session.exec(select(City)).all())
        assert everything > 2
        with count_statements(engine) as whole:
            page = paginate(session, select(City), keys, PageRequest(limit=everything))
        assert (len(page.items), page.total, page.next_cursor, page.has_previous) == (
            everything,
            everything,
            None,
            False,
        )
        assert whole.count == 1, whole.statements
        with count_statements(engine) as part:
            first = paginate(session, select(City), keys, PageRequest(limit=2))
        assert (len(first.items), first.total, first.has_previous) == (2, everything, False)
        assert part.count == 2, part.statements
        last = paginate(session, select(City), keys, PageRequest(limit=everything, cursor=first.next_cursor))
        assert (len(last.items), last.total, last.next_cursor, last.has_previous) == (
            everything - 2,
            everything,
            None,
            True,
        )
        assert list(last.cursors) == [encode_cursor([row.id]) for row in last.items]
