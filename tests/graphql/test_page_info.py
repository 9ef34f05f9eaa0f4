"""PageInfo as the Relay connection specification has it: hasPreviousPage and startCursor beside
hasNextPage and endCursor, for top-level connections and for the hub catalogues loaded in a batch."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.graphql.conftest import data

PAGE_INFO = "pageInfo { hasPreviousPage hasNextPage startCursor endCursor } edges { cursor node { __typename } }"


def _pages(client: TestClient, template: str, path: list[str], **variables: Any) -> list[dict[str, Any]]:
    """Every page of the connection at `path`, following endCursor from the first page."""
    pages, after = [], None
    while True:
        result: Any = data(client, template, after=after, **variables)
        for name in path:
            result = result[name]
        pages.append(result)
        if not result["pageInfo"]["hasNextPage"]:
            return pages
        after = result["pageInfo"]["endCursor"]


def _assert_relay_page_info(pages: list[dict[str, Any]]) -> None:
    assert len(pages) > 2, "the data must span several pages for this test to mean anything"
    for number, page in enumerate(pages):
        info, cursors = page["pageInfo"], [e["cursor"] for e in page["edges"]]
        # Only the first page has nothing before it: every later one was reached with an `after` cursor.
        assert info["hasPreviousPage"] is (number > 0)
        assert info["startCursor"] == cursors[0]
        assert info["endCursor"] == cursors[-1]


def test_top_level_connection_says_what_precedes_each_page(api: TestClient) -> None:
    pages = _pages(api, f"query ($after: String) {{ kpis(first: 7, after: $after) {{ {PAGE_INFO} }} }}", ["kpis"])
    _assert_relay_page_info(pages)


def test_an_empty_page_after_the_last_row_has_no_cursors_but_a_previous_page(api: TestClient) -> None:
    last = _pages(api, f"query ($after: String) {{ kpis(first: 50, after: $after) {{ {PAGE_INFO} }} }}", ["kpis"])[-1]
    beyond = data(
        api,
        f"query ($after: String) {{ kpis(first: 5, after: $after) {{ {PAGE_INFO} }} }}",
        after=last["pageInfo"]["endCursor"],
    )["kpis"]
    assert beyond["edges"] == []
    assert beyond["pageInfo"] == {"hasPreviousPage": True, "hasNextPage": False, "startCursor": None, "endCursor": None}


def test_batched_hub_catalogues_say_what_precedes_each_page(api: TestClient) -> None:
    hubs = data(api, "{ hubs(first: 100) { edges { node { id catalogue(first: 100) { totalCount } } } } }")["hubs"]
    hub_id = max(hubs["edges"], key=lambda e: e["node"]["catalogue"]["totalCount"])["node"]["id"]
    template = f"""query ($id: Int!, $after: String) {{ hub(id: $id) {{
        catalogue(first: 2, after: $after) {{ {PAGE_INFO} }} }} }}"""
    _assert_relay_page_info(_pages(api, template, ["hub", "catalogue"], id=hub_id))


def test_has_previous_page_counts_only_rows_matching_the_filters(api: TestClient) -> None:
    # A cursor says where in the sort a page starts, whatever the filters: from the first KPI's cursor, a
    # dimension that does not hold that KPI has nothing before the page, the KPI's own dimension has it.
    template = """query ($after: String, $dimension: String) {
        kpis(first: 100, after: $after, dimension: $dimension) {
          pageInfo { hasPreviousPage } edges { cursor node { dimension } } } }"""
    edges = data(api, template, after=None, dimension=None)["kpis"]["edges"]
    first, dimensions = edges[0], {e["node"]["dimension"] for e in edges}
    own = first["node"]["dimension"]
    other = sorted(dimensions - {own})[0]
    for dimension, preceded in ((other, False), (own, True)):
        page = data(api, template, after=first["cursor"], dimension=dimension)["kpis"]
        assert page["edges"], dimension
        assert page["pageInfo"]["hasPreviousPage"] is preceded, dimension
