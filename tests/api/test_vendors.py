"""Vendors through REST and GraphQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Data, all_pages, assert_problem, gql, gql_all, ids


def test_list_pages_to_the_end_sorted_by_name(api: TestClient, data: Data) -> None:
    items = all_pages(api, "/api/v1/vendors", limit=5)
    assert {v["id"] for v in items} == set(data.by_id("vendor"))
    assert [(v["name"], v["id"]) for v in items] == sorted((v["name"], v["id"]) for v in data("vendor"))


def test_newest_first_is_stable_across_page_sizes(api: TestClient, data: Data) -> None:
    by_3 = ids(api, "/api/v1/vendors", limit=3, sort="newest")
    by_100 = ids(api, "/api/v1/vendors", limit=100, sort="newest")
    assert by_3 == by_100
    assert by_3 == sorted(data.by_id("vendor"), reverse=True)


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"country": "no"}, lambda v: v["country_code"] == "NO"),
        ({"size": "small"}, lambda v: v["size"] == "small"),
        ({"verified": "true"}, lambda v: v["verified"]),
        ({"verified": "false"}, lambda v: not v["verified"]),
        ({"q": "k"}, lambda v: v["name"].lower().startswith("k")),
        ({"country": "fi", "size": "medium"}, lambda v: v["country_code"] == "FI" and v["size"] == "medium"),
    ],
)
def test_filters(api: TestClient, data: Data, params: dict[str, str], keep: object) -> None:
    expected = {v["id"] for v in data("vendor") if keep(v)}  # type: ignore[operator]
    assert expected, "the filter should match something in the seed"
    assert set(ids(api, "/api/v1/vendors", **params)) == expected


def test_get_with_published_solution_count_and_etag(api: TestClient, data: Data) -> None:
    published = [s["vendor_id"] for s in data("solution") if s["status"] == "published"]
    vendor_id = max(set(published), key=published.count)
    response = api.get(f"/api/v1/vendors/{vendor_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == data.by_id("vendor")[vendor_id]["name"]
    assert body["published_solutions"] == published.count(vendor_id)
    tag = response.headers["etag"]
    assert tag == f'"vendor-{vendor_id}-v{body["version"]}"'
    again = api.get(f"/api/v1/vendors/{vendor_id}", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.headers["etag"] == tag
    assert again.content == b""
    weak = api.get(f"/api/v1/vendors/{vendor_id}", headers={"If-None-Match": f'"other", W/{tag}'})
    assert weak.status_code == 304
    stale = api.get(f"/api/v1/vendors/{vendor_id}", headers={"If-None-Match": f'"vendor-{vendor_id}-v0"'})
    assert stale.status_code == 200


def test_drafts_do_not_count_as_published(api: TestClient, data: Data) -> None:
    body = api.get(f"/api/v1/vendors/{data.draft_vendor_id}").json()
    assert body["published_solutions"] == 0


def test_errors(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/vendors/999999"), 404)
    assert_problem(api.get("/api/v1/vendors", params={"limit": 101}), 422, "query.limit")
    assert_problem(api.get("/api/v1/vendors", params={"size": "huge"}), 422, "query.size")
    assert_problem(api.get("/api/v1/vendors", params={"sort": "-name"}), 422, "query.sort")
    assert_problem(api.get("/api/v1/vendors", params={"country": "NOR"}), 422, "query.country")
    assert_problem(api.get("/api/v1/vendors", params={"cursor": "garbage"}), 422, "query.cursor")
    assert_problem(api.get("/api/v1/vendors/zero"), 422, "path.vendor_id")


def test_graphql_matches_rest(api: TestClient) -> None:
    rest = all_pages(api, "/api/v1/vendors", limit=100, size="small")
    nodes = gql_all(api, "vendors", "id slug name countryCode size verified website version", size="small")
    assert [n["id"] for n in nodes] == [v["id"] for v in rest]
    for node, item in zip(nodes, rest, strict=True):
        assert node["name"] == item["name"]
        assert node["countryCode"] == item["country_code"]
        assert node["size"] == item["size"]
        assert node["verified"] == item["verified"]
    one = rest[0]
    detail = api.get(f"/api/v1/vendors/{one['id']}").json()
    node = gql(api, "query ($id: Int!) { vendor(id: $id) { name publishedSolutions } }", id=one["id"])["vendor"]
    assert node == {"name": detail["name"], "publishedSolutions": detail["published_solutions"]}
