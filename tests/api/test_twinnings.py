"""Twinnings through REST and GraphQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Data, all_pages, assert_problem, gql, gql_all, ids


def test_list_newest_first_to_the_end(api: TestClient, data: Data) -> None:
    assert ids(api, "/api/v1/twinnings", limit=1) == sorted(data.by_id("twinning"), reverse=True)
    assert ids(api, "/api/v1/twinnings", limit=3) == ids(api, "/api/v1/twinnings", limit=100)


def test_filters(api: TestClient, data: Data) -> None:
    twinnings = data("twinning")
    city = twinnings[0]["city_b_id"]  # a city on the b side: "either side" must find it
    status = twinnings[0]["status"]
    focus = data.grouped("twinning_kpi", "twinning_id", "kpi_id")
    kpi_id = sorted(focus[twinnings[0]["id"]])[0]
    kpi = data.by_id("kpi")[kpi_id]
    cases = [
        ({"city": city}, {t["id"] for t in twinnings if city in (t["city_a_id"], t["city_b_id"])}),
        ({"status": status}, {t["id"] for t in twinnings if t["status"] == status}),
        ({"kpi": kpi["slug"]}, {t for t, kpis in focus.items() if kpi_id in kpis}),
        (
            {"kpi": kpi["code"], "status": status},
            {t["id"] for t in twinnings if t["status"] == status and kpi_id in focus[t["id"]]},
        ),
    ]
    for params, expected in cases:
        assert expected, params
        assert expected != set(data.by_id("twinning")), params
        assert set(ids(api, "/api/v1/twinnings", **params)) == expected, params
    assert ids(api, "/api/v1/twinnings", city=999999) == []


def test_get_with_cities_and_kpis(api: TestClient, data: Data) -> None:
    row = data("twinning")[0]
    response = api.get(f"/api/v1/twinnings/{row['id']}")
    body = response.json()
    cities = data.by_id("city")
    assert body["city_a"]["name"] == cities[row["city_a_id"]]["name"]
    assert body["city_b"]["name"] == cities[row["city_b_id"]]["name"]
    assert (body["status"], body["rationale"], body["focus_categories"]) == (
        row["status"],
        row["rationale"],
        row["focus_categories"],
    )
    kpis = data.by_id("kpi")
    assert [k["code"] for k in body["focus_kpis"]] == sorted(
        kpis[k["kpi_id"]]["code"] for k in data("twinning_kpi") if k["twinning_id"] == row["id"]
    )
    tag = response.headers["etag"]
    assert tag == f'"twinning-{row["id"]}-v{row["version"]}"'
    assert api.get(f"/api/v1/twinnings/{row['id']}", headers={"If-None-Match": tag}).status_code == 304


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/twinnings", {"status": "married"}, "query.status"),
        ("/api/v1/twinnings", {"city": "Oslo"}, "query.city"),
        ("/api/v1/twinnings", {"limit": 101}, "query.limit"),
        ("/api/v1/twinnings/-1", {}, "path.twinning_id"),
    ],
)
def test_bad_parameters(api: TestClient, path: str, params: dict[str, Any], field: str) -> None:
    assert_problem(api.get(path, params=params), 422, field)


def test_unknown_id(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/twinnings/999999"), 404)


def test_graphql_matches_rest(api: TestClient) -> None:
    rest = all_pages(api, "/api/v1/twinnings", limit=100)
    nodes = gql_all(
        api, "twinnings", "id status rationale cityA { id name } cityB { id name } focusKpis { slug code name }"
    )
    assert [n["id"] for n in nodes] == [t["id"] for t in rest]
    for node, item in zip(nodes, rest, strict=True):
        assert node["cityA"] == {"id": item["city_a"]["id"], "name": item["city_a"]["name"]}
        assert node["cityB"] == {"id": item["city_b"]["id"], "name": item["city_b"]["name"]}
        assert node["focusKpis"] == item["focus_kpis"]
        assert node["status"] == item["status"]
    one = gql(api, "query ($id: Int!) { twinning(id: $id) { id focusCategories } }", id=rest[0]["id"])["twinning"]
    assert one == {"id": rest[0]["id"], "focusCategories": rest[0]["focus_categories"]}
