"""Procurement guidelines through REST and GraphQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Data, acting_as, admin, all_pages, assert_problem, gql, gql_all, gql_errors, ids


def _published(data: Data) -> dict[int, dict[str, Any]]:
    return {g["id"]: g for g in data("procurement_guideline") if g["status"] == "published"}


def _most_common(values: list[Any]) -> Any:
    return max(set(values), key=values.count)


def test_list_pages_to_the_end_by_title(api: TestClient, data: Data) -> None:
    items = all_pages(api, "/api/v1/procurement-guidelines", limit=4)
    assert {g["id"] for g in items} == set(_published(data))
    assert [(g["title"], g["id"]) for g in items] == sorted((g["title"], g["id"]) for g in items)
    assert ids(api, "/api/v1/procurement-guidelines", limit=3) == ids(api, "/api/v1/procurement-guidelines", limit=100)


def test_filters(api: TestClient, data: Data) -> None:
    published = set(_published(data))
    stage = _most_common([g["stage"] for g in _published(data).values()])
    category = _most_common([c["category"] for c in data("guideline_category") if c["guideline_id"] in published])
    kpi_id = _most_common([k["kpi_id"] for k in data("guideline_kpi") if k["guideline_id"] in published])
    kpi = data.by_id("kpi")[kpi_id]
    on_kpi = {k["guideline_id"] for k in data("guideline_kpi") if k["kpi_id"] == kpi_id}
    paired_stage = _published(data)[min(on_kpi & published)]["stage"]
    cases = [
        ({"stage": stage}, {g for g, row in _published(data).items() if row["stage"] == stage}),
        (
            {"category": category.lower()},
            {c["guideline_id"] for c in data("guideline_category") if c["category"] == category},
        ),
        ({"kpi": kpi["slug"]}, {k["guideline_id"] for k in data("guideline_kpi") if k["kpi_id"] == kpi_id}),
        ({"kpi": kpi["code"]}, {k["guideline_id"] for k in data("guideline_kpi") if k["kpi_id"] == kpi_id}),
        (
            {"stage": paired_stage, "kpi": kpi["slug"]},
            {g for g, row in _published(data).items() if row["stage"] == paired_stage} & on_kpi,
        ),
    ]
    for params, matching in cases:
        expected = matching & published
        assert expected, params
        assert expected != published, params
        assert set(ids(api, "/api/v1/procurement-guidelines", **params)) == expected, params


def test_get_with_kpis_and_etag(api: TestClient, data: Data) -> None:
    guideline_id = _most_common(
        [k["guideline_id"] for k in data("guideline_kpi") if k["guideline_id"] in _published(data)]
    )
    response = api.get(f"/api/v1/procurement-guidelines/{guideline_id}")
    assert response.status_code == 200
    body = response.json()
    row = data.by_id("procurement_guideline")[guideline_id]
    assert (body["title"], body["stage"], body["body"]) == (row["title"], row["stage"], row["body"])
    kpis = data.by_id("kpi")
    expected = sorted(kpis[k["kpi_id"]]["code"] for k in data("guideline_kpi") if k["guideline_id"] == guideline_id)
    assert [k["code"] for k in body["kpis"]] == expected
    assert body["categories"] == sorted(
        c["category"] for c in data("guideline_category") if c["guideline_id"] == guideline_id
    )
    tag = response.headers["etag"]
    assert tag == f'"procurement_guideline-{guideline_id}-v{row["version"]}"'
    assert api.get(f"/api/v1/procurement-guidelines/{guideline_id}", headers={"If-None-Match": tag}).status_code == 304


def test_drafts_are_hidden_but_not_from_admins(api: TestClient, data: Data) -> None:
    draft = next(g["id"] for g in data("procurement_guideline") if g["status"] != "published")
    assert_problem(api.get(f"/api/v1/procurement-guidelines/{draft}"), 404)
    assert draft not in ids(api, "/api/v1/procurement-guidelines", kpi="EN-EN-AQ-1C")
    assert (
        gql_errors(api, "query ($id: Int!) { procurementGuideline(id: $id) { title } }", id=draft)[0]["extensions"][
            "code"
        ]
        == "NOT_FOUND"
    )
    with acting_as(api, admin()):
        assert api.get(f"/api/v1/procurement-guidelines/{draft}").status_code == 200
        assert draft in ids(api, "/api/v1/procurement-guidelines", kpi="EN-EN-AQ-1C")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/procurement-guidelines", {"stage": "shopping"}, "query.stage"),
        ("/api/v1/procurement-guidelines", {"limit": 101}, "query.limit"),
        ("/api/v1/procurement-guidelines", {"language": "english"}, "query.language"),
        ("/api/v1/procurement-guidelines/abc", {}, "path.guideline_id"),
    ],
)
def test_bad_parameters(api: TestClient, path: str, params: dict[str, Any], field: str) -> None:
    assert_problem(api.get(path, params=params), 422, field)


def test_unknown_id(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/procurement-guidelines/999999"), 404)


def test_graphql_matches_rest(api: TestClient) -> None:
    rest = all_pages(api, "/api/v1/procurement-guidelines", limit=100)
    nodes = gql_all(api, "procurementGuidelines", "id title stage categories kpis { slug code name }")
    assert [n["id"] for n in nodes] == [g["id"] for g in rest]
    for node, item in zip(nodes, rest, strict=True):
        assert (node["title"], node["stage"], node["categories"]) == (item["title"], item["stage"], item["categories"])
        assert node["kpis"] == item["kpis"]
    one = rest[0]["id"]
    node = gql(api, "query ($id: Int!) { procurementGuideline(id: $id) { id body sourceUrl } }", id=one)
    detail = api.get(f"/api/v1/procurement-guidelines/{one}").json()
    assert node["procurementGuideline"] == {"id": one, "body": detail["body"], "sourceUrl": detail["source_url"]}
