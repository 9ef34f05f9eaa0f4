"""The sections of the matching store and the data version they declare (docs/architecture.md §7).

Each loader of `build_snapshot` (and of `app.matches.learned`) is a *section*: a function decorated with
`@section(name, covers)`, where `covers` names, beside the loader, every column it reads and how the data
version (`fingerprint_statement`) sees a change to it. The data version is made from these declarations
and nothing else, so a loader that starts reading a column must declare it, and then the version covers it;
`tests/matches/test_store_sections.py` runs every section against a real database, takes the columns each
executed statement reads (selected, joined, filtered or ordered on) and fails on any that its section does
not declare.

How a column is covered (`Cover`):
- `"sum"`: its values are summed (NULL as 0), so even a raw SQL UPDATE that leaves `updated_at` alone is seen;
- `"coded"`: an enum or boolean column; the sum over rows of id x the value's position in the enum (true for
  a boolean), so a raw UPDATE from one value to another is seen;
- `"length"`: a text column of a table without `updated_at` or `version` (reference data): the sum of its
  values' lengths;
- `"row"`: covered by the table's `max(updated_at)` and `sum(version)` (every ORM write bumps them); only for
  tables that have one of them;
- `"key"`: part of the primary key: rows are inserted and deleted, never updated in place, which the row
  count and `max(id)` see.
Every table a section reads also contributes its row count, `max(id)`, `max(updated_at)` and `sum(version)`
where it has them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql import visitors
from sqlmodel import SQLModel

Cover = Literal["sum", "coded", "length", "row", "key"]
Covers = Mapping[str, Mapping[str, Cover]]
"""table name -> column name -> how the data version covers it."""

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, eq=False)
class Section:
    name: str
    covers: Covers


SECTIONS: list[Section] = []
"""Every section, in the order their modules declare them."""

_running: ContextVar[Section | None] = ContextVar("citymarket_store_section", default=None)


def running_section() -> Section | None:
    """The section whose loader is running (for the test that checks the declarations)."""
    return _running.get()


def section(name: str, covers: Covers) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare a loader as a section of the store, with the columns its data version covers."""
    declared = Section(name, covers)
    SECTIONS.append(declared)

    def decorate(loader: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(loader)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            token = _running.set(declared)
            try:
                return loader(*args, **kwargs)
            finally:
                _running.reset(token)

        run.section = declared  # type: ignore[attr-defined]
        return run

    return decorate


def table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


def columns_read(statement: sa.ClauseElement) -> set[tuple[str, str]]:
    """(table, column) of every table column the statement touches: selected, joined, filtered, grouped
    or ordered on, in subqueries too."""
    return {
        (element.table.name, element.name)
        for element in visitors.iterate(statement)
        if isinstance(element, sa.Column) and isinstance(element.table, sa.Table)
    }


def undeclared(covers: Covers, statements: Iterable[sa.ClauseElement]) -> set[tuple[str, str]]:
    """The columns the statements read that `covers` does not declare."""
    read = set().union(*(columns_read(s) for s in statements))
    return {(t, c) for t, c in read if c not in covers.get(t, {})}


def misdeclared(covers: Covers) -> list[str]:
    """Declarations that cannot hold: an unknown column, `"row"` on a table without `updated_at` or
    `version`, `"key"` on a column outside the primary key, `"coded"` on a column that is neither an enum
    nor a boolean."""
    problems = []
    for name, columns in covers.items():
        t = table(name)
        for column, cover in columns.items():
            if column not in t.c:
                problems.append(f"{name}.{column}: no such column")
                continue
            c = t.c[column]
            if cover == "row" and "updated_at" not in t.c and "version" not in t.c:
                problems.append(f"{name}.{column}: 'row' but the table has no updated_at or version")
            if cover == "key" and not c.primary_key:
                problems.append(f"{name}.{column}: 'key' but not in the primary key")
            if cover == "coded" and not isinstance(c.type, (sa.Enum, sa.Boolean)):
                problems.append(f"{name}.{column}: 'coded' but neither an enum nor a boolean")
    return problems


def merged_covers(sections: Iterable[Section]) -> dict[str, dict[str, Cover]]:
    """Table -> column -> cover over all sections, tables in the order they are first declared."""
    out: dict[str, dict[str, Cover]] = {}
    for s in sections:
        for name, columns in s.covers.items():
            mine = out.setdefault(name, {})
            for column, cover in columns.items():
                if mine.setdefault(column, cover) != cover:
                    raise ValueError(f"{name}.{column} is declared both {mine[column]!r} and {cover!r}")
    return out


def _cover(t: sa.Table, column: str, cover: Cover) -> sa.ColumnElement[Any] | None:
    c = t.c[column]
    if cover == "sum":
        return sa.func.sum(sa.func.coalesce(c, 0))
    if cover == "length":
        return sa.func.sum(sa.func.coalesce(sa.func.length(sa.cast(c, sa.String)), 0))
    if cover == "coded":
        weight = t.c.id if "id" in t.c else sa.literal(1)
        if isinstance(c.type, sa.Boolean):
            return sa.func.sum(sa.case((c == sa.true(), weight), else_=0))
        assert isinstance(c.type, sa.Enum)
        whens = [(sa.cast(c, sa.String) == value, weight * (i + 1)) for i, value in enumerate(c.type.enums)]
        return sa.func.sum(sa.case(*whens, else_=0))
    return None  # "row" and "key": the table's own aggregates


def table_aggregates(name: str, columns: Mapping[str, Cover]) -> list[sa.ColumnElement[Any]]:
    t = table(name)
    out: list[sa.ColumnElement[Any]] = [sa.func.count()]
    if "id" in t.c:
        out.append(sa.func.max(t.c.id))
    if "updated_at" in t.c:
        out.append(sa.func.max(t.c.updated_at))
    if "version" in t.c:
        out.append(sa.func.sum(t.c.version))
    for column, cover in columns.items():
        agg = _cover(t, column, cover)
        if agg is not None:
            out.append(agg)
    return out


def fingerprint_statement(sections: Iterable[Section] = SECTIONS) -> sa.Select[Any]:
    """One statement: one aggregate row per table the sections read (a single scan each), cross-joined."""
    subqueries = [
        sa.select(*(agg.label(f"{name}_{i}") for i, agg in enumerate(table_aggregates(name, columns))))
        .select_from(table(name))
        .subquery(f"v_{name}")
        for name, columns in merged_covers(sections).items()
    ]
    joined: sa.FromClause = subqueries[0]
    for sub in subqueries[1:]:
        joined = joined.join(sub, sa.true())
    return sa.select(*(col for sub in subqueries for col in sub.c)).select_from(joined)
