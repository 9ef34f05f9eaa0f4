"""Hubs and their public catalogues through REST and GraphQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Data, all_pages, assert_problem, gql, gql_all, ids


def _catalogue(data: Data, hub_id: int, keep: Any = lambda entry, solution: True) -> list[int]:
    """The public catalogue's entry ids in order: featured first, then by title (then entry id)."""
    solutions = data.published_solutions
    entries = [
        e
        for e in data("hub_catalogue_entry")
        if e["hub_id"] == hub_id
        and e["status"] in ("approved", "featured")
        and e["solution_id"] in solutions
        and keep(e, solutions[e["solution_id"]])
    ]
    entries.sort(key=lambda e: (e["status"] != "featured", solutions[e["solution_id"]]["title"], e["id"]))
    return [e["id"] for e in entries]


def test_list_and_country_filter(api: TestClient, data: Data) -> None:
    hubs = all_pages(api, "/api/v1/hubs", limit=2)
    assert [(h["name"], h["id"]) for h in hubs] == sorted((h["name"], h["id"]) for h in data("hub"))
    countries = data.grouped("hub_country", "hub_id", "country_code")
    assert all(h["countries"] == sorted(countries[h["id"]]) for h in hubs)
    country = sorted(countries[hubs[0]["id"]])[0]
    expected = {hub for hub, codes in countries.items() if country in codes}
    assert set(ids(api, "/api/v1/hubs", country=country.lower())) == expected
    assert ids(api, "/api/v1/hubs", country="AQ") == []


def test_get_with_etag(api: TestClient, data: Data) -> None:
    hub = data("hub")[0]
    response = api.get(f"/api/v1/hubs/{hub['id']}")
    assert response.json()["name"] == hub["name"]
    tag = response.headers["etag"]
    assert tag == f'"hub-{hub["id"]}-v{hub["version"]}"'
    assert api.get(f"/api/v1/hubs/{hub['id']}", headers={"If-None-Match": tag}).status_code == 304


def test_catalogue_is_featured_first_then_by_title_and_pages_to_the_end(api: TestClient, data: Data) -> None:
    for hub in data("hub"):
        items = all_pages(api, f"/api/v1/hubs/{hub['id']}/catalogue", limit=3)
        assert [e["id"] for e in items] == _catalogue(data, hub["id"])
        assert all(e["solution"]["id"] == e["solution_id"] for e in items)
        assert all(e["solution"]["status"] == "published" for e in items)
        notes = {e["id"]: e["note"] for e in data("hub_catalogue_entry")}
        assert all(e["note"] == notes[e["id"]] for e in items)


def test_catalogue_hides_hidden_entries_and_unpublished_listings(api: TestClient, data: Data) -> None:
    catalogued = {e["id"] for hub in data("hub") for e in all_pages(api, f"/api/v1/hubs/{hub['id']}/catalogue")}
    hidden = {e["id"] for e in data("hub_catalogue_entry") if e["status"] == "hidden"}
    of_drafts = {e["id"] for e in data("hub_catalogue_entry") if e["solution_id"] not in data.published_solutions}
    assert hidden
    assert of_drafts, "the fixture adds a featured entry for a draft listing"
    assert not catalogued & (hidden | of_drafts)


def test_catalogue_filters(api: TestClient, data: Data) -> None:
    hub_id = max(data.by_id("hub"), key=lambda h: len(_catalogue(data, h)))
    categories = data.grouped("solution_category", "solution_id", "category")
    claims = data.grouped("solution_kpi_impact", "solution_id", "kpi_id")
    entries = data.by_id("hub_catalogue_entry")
    solution_of = {e: entries[e]["solution_id"] for e in _catalogue(data, hub_id)}
    category = sorted(c for s in solution_of.values() for c in categories[s])[0]
    kpi_id = sorted(k for s in solution_of.values() for k in claims[s])[0]
    kpi = data.by_id("kpi")[kpi_id]
    cases = [
        ({"status": "featured"}, lambda e, s: e["status"] == "featured"),
        ({"status": "approved"}, lambda e, s: e["status"] == "approved"),
        ({"category": category.upper()}, lambda e, s: category in categories[s["id"]]),
        ({"kpi": kpi["code"]}, lambda e, s: kpi_id in claims[s["id"]]),
        (
            {"kpi": kpi["slug"], "status": "approved"},
            lambda e, s: kpi_id in claims[s["id"]] and e["status"] == "approved",
        ),
    ]
    for params, keep in cases:
        expected = _catalogue(data, hub_id, keep)
        assert expected, params
        assert [e["id"] for e in all_pages(api, f"/api/v1/hubs/{hub_id}/catalogue", **params)] == expected, params


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        # `hidden` is for the hub's curators (tests/api/writes_catalogue/test_curation.py).
        ("/api/v1/hubs/1/catalogue", {"status": "promoted"}, "query.status"),
        ("/api/v1/hubs/1/catalogue", {"limit": 101}, "query.limit"),
        ("/api/v1/hubs/1/catalogue", {"cursor": "bm9wZQ"}, "query.cursor"),
        ("/api/v1/hubs", {"country": "x"}, "query.country"),
        ("/api/v1/hubs/one", {}, "path.hub_id"),
    ],
)
def test_bad_parameters(api: TestClient, path: str, params: dict[str, Any], field: str) -> None:
    assert_problem(api.get(path, params=params), 422, field)


def test_unknown_hub(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/hubs/999999"), 404)
    assert_problem(api.get("/api/v1/hubs/999999/catalogue"), 404)


CATALOGUE = "totalCount edges { cursor node { id status note solutionId solution { id title vendor { name } } } }"


def test_graphql_hub_and_catalogue_match_rest(api: TestClient, data: Data) -> None:
    # Every hub's catalogue in one query: the batched path, as a list of hubs asks for it.
    nodes = gql_all(api, "hubs", f"id name countries catalogue(first: 100) {{ {CATALOGUE} }}")
    assert [n["id"] for n in nodes] == ids(api, "/api/v1/hubs")
    for node in nodes:
        rest = all_pages(api, f"/api/v1/hubs/{node['id']}/catalogue", limit=100)
        assert node["countries"] == api.get(f"/api/v1/hubs/{node['id']}").json()["countries"]
        assert node["catalogue"]["totalCount"] == len(rest)
        assert [
            (e["node"]["id"], e["node"]["status"], e["node"]["note"], e["node"]["solution"]["title"])
            for e in node["catalogue"]["edges"]
        ] == [(e["id"], e["status"], e["note"], e["solution"]["title"]) for e in rest]
        assert all(
            e["node"]["solution"]["vendor"]["name"] == r["solution"]["vendor"]["name"]
            for e, r in zip(node["catalogue"]["edges"], rest, strict=True)
        )


def test_graphql_catalogue_pages_with_cursors(api: TestClient, data: Data) -> None:
    hub_id = max(data.by_id("hub"), key=lambda h: len(_catalogue(data, h)))
    seen: list[int] = []
    after = None
    while True:
        hub = gql(
            api,
            """query ($id: Int!, $after: String) { hub(id: $id) { catalogue(first: 2, after: $after, status: approved) {
                 totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } }""",
            id=hub_id,
            after=after,
        )["hub"]
        seen += [e["node"]["id"] for e in hub["catalogue"]["edges"]]
        if not hub["catalogue"]["pageInfo"]["hasNextPage"]:
            break
        after = hub["catalogue"]["pageInfo"]["endCursor"]
    expected = _catalogue(data, hub_id, lambda e, s: e["status"] == "approved")
    assert seen == expected
    assert hub["catalogue"]["totalCount"] == len(expected)
