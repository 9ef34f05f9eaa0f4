"""Relay-style connections whose slicing happened in SQL (see app.core.pagination)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from app.core.errors import InvalidInput
from app.core.pagination import PageRequest, PageResult

Node = TypeVar("Node")

MAX_FIRST = 100


@strawberry.type(description="Where this page stands in the list (the Relay connection specification).")
class PageInfo:
    has_next_page: bool
    # Exact, also when paginating forward (the spec lets a server answer false there when it cannot tell
    # cheaply): the page's COUNT also counts the rows after the `after` cursor (app.core.pagination).
    has_previous_page: bool = strawberry.field(
        description="Whether rows matching the filters precede the `after` cursor; false without one."
    )
    start_cursor: str | None = strawberry.field(description="The first edge's cursor; null on an empty page.")
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    node: Node
    cursor: str


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_page(cls, result: PageResult[Any], to_node: Callable[[Any], Node]) -> Connection[Node]:
        return cls(
            edges=[Edge(node=to_node(row), cursor=c) for row, c in zip(result.items, result.cursors, strict=True)],
            page_info=PageInfo(
                has_next_page=result.next_cursor is not None,
                has_previous_page=result.has_previous,
                start_cursor=result.cursors[0] if result.cursors else None,
                end_cursor=result.cursors[-1] if result.cursors else None,
            ),
            total_count=result.total,
        )


def page_request(first: int, after: str | None) -> PageRequest:
    if not 1 <= first <= MAX_FIRST:
        raise InvalidInput(f"`first` must be between 1 and {MAX_FIRST}, got {first}.")
    return PageRequest(limit=first, cursor=after)
