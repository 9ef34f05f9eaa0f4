"""Case studies through REST and GraphQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import (
    Data,
    acting_as,
    admin,
    all_pages,
    assert_problem,
    gql,
    gql_all,
    gql_errors,
    ids,
    vendor_member,
)


def _published(data: Data) -> dict[int, dict[str, Any]]:
    return {c["id"]: c for c in data("case_study") if c["status"] == "published"}


def _most_common(values: list[Any]) -> Any:
    return max(set(values), key=values.count)


def _draft_listing(data: Data) -> int:
    return next(s["id"] for s in data("solution") if s["vendor_id"] == data.draft_vendor_id and s["status"] == "draft")


FILTERS: dict[str, Callable[[Data], tuple[dict[str, Any], set[int]]]] = {
    "city": lambda d: (
        {"city": (c := _most_common([r["city_id"] for r in _published(d).values()]))},
        {r["id"] for r in d("case_study") if r["city_id"] == c},
    ),
    "country": lambda d: (
        {
            "country": (
                k := d.by_id("city")[_most_common([r["city_id"] for r in _published(d).values()])]["country_code"]
            )
        },
        {r["id"] for r in d("case_study") if r["city_id"] and d.by_id("city")[r["city_id"]]["country_code"] == k},
    ),
    "solution": lambda d: (
        {"solution": (s := _most_common([r["solution_id"] for r in d("case_study_solution")]))},
        {r["case_study_id"] for r in d("case_study_solution") if r["solution_id"] == s},
    ),
    "kpi": lambda d: (
        {"kpi": "EC-I-WS-3C"},
        {o["case_study_id"] for o in d("case_study_outcome") if o["kpi_id"] == d.kpi_id("EC-I-WS-3C")},
    ),
    "year range": lambda d: (
        {"year_from": 2018, "year_to": 2021},
        {r["id"] for r in d("case_study") if r["year"] is not None and 2018 <= r["year"] <= 2021},
    ),
    "year from": lambda d: ({"year_from": 2022}, {r["id"] for r in d("case_study") if (r["year"] or 0) >= 2022}),
    "language": lambda d: ({"language": "EN"}, {r["id"] for r in d("case_study") if r["language"] == "en"}),
    "demo": lambda d: ({"demo": "true"}, {r["id"] for r in d("case_study") if r["is_demo"]}),
    "real": lambda d: ({"demo": "false"}, {r["id"] for r in d("case_study") if not r["is_demo"]}),
}


@pytest.mark.parametrize("name", FILTERS)
def test_filters(api: TestClient, data: Data, name: str) -> None:
    params, matching = FILTERS[name](data)
    expected = matching & set(_published(data))
    assert expected, f"{name}: the filter should match published case studies in the seed"
    assert expected != set(_published(data)) or name == "language"
    assert set(ids(api, "/api/v1/case-studies", **params)) == expected


def test_list_and_sorts(api: TestClient, data: Data) -> None:
    items = all_pages(api, "/api/v1/case-studies", limit=4)
    assert {c["id"] for c in items} == set(_published(data))
    assert [(c["title"], c["id"]) for c in items] == sorted((c["title"], c["id"]) for c in items)
    cities = data.by_id("city")
    assert all(c["city"]["name"] == cities[c["city_id"]]["name"] for c in items if c["city_id"])
    assert all(c["city"] is None for c in items if c["city_id"] is None)
    newest = ids(api, "/api/v1/case-studies", limit=5, sort="newest")
    assert newest == sorted(_published(data), reverse=True)
    assert newest == ids(api, "/api/v1/case-studies", limit=100, sort="newest")


def test_unpublished_case_studies_and_the_links_to_hidden_listings(api: TestClient, data: Data) -> None:
    draft_case = next(c["id"] for c in data("case_study") if c["status"] != "published")
    assert_problem(api.get(f"/api/v1/case-studies/{draft_case}"), 404)
    draft_listing = _draft_listing(data)
    linking = {r["case_study_id"] for r in data("case_study_solution") if r["solution_id"] == draft_listing}
    assert linking, "the fixture links a published case study to a draft listing"
    assert ids(api, "/api/v1/case-studies", solution=draft_listing) == []
    case_id = min(linking)
    shown = {s["id"] for s in api.get(f"/api/v1/case-studies/{case_id}").json()["solutions"]}
    assert draft_listing not in shown
    node = gql(api, "query ($id: Int!) { caseStudy(id: $id) { solutions { id } } }", id=case_id)["caseStudy"]
    assert {s["id"] for s in node["solutions"]} == shown
    with acting_as(api, vendor_member(data.draft_vendor_id)):
        assert ids(api, "/api/v1/case-studies", solution=draft_listing) == sorted(linking)
        assert draft_listing in {s["id"] for s in api.get(f"/api/v1/case-studies/{case_id}").json()["solutions"]}
        assert api.get(f"/api/v1/case-studies/{draft_case}").status_code == 404
    with acting_as(api, admin()):
        assert api.get(f"/api/v1/case-studies/{draft_case}").json()["status"] == "draft"
        assert draft_case in ids(api, "/api/v1/case-studies")
    errors = gql_errors(api, "query ($id: Int!) { caseStudy(id: $id) { title } }", id=draft_case)
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


def test_get_with_outcomes_and_solutions(api: TestClient, data: Data) -> None:
    outcomes = data("case_study_outcome")
    case_id = _most_common([o["case_study_id"] for o in outcomes if o["case_study_id"] in _published(data)])
    response = api.get(f"/api/v1/case-studies/{case_id}")
    assert response.status_code == 200
    body = response.json()
    row = data.by_id("case_study")[case_id]
    assert (body["title"], body["year"], body["city_id"]) == (row["title"], row["year"], row["city_id"])
    kpis, points = data.by_id("kpi"), data.by_id("kpi_data_point")
    expected = sorted(
        (
            kpis[o["kpi_id"]]["code"],
            kpis[o["kpi_id"]]["slug"],
            points[o["data_point_id"]]["key"] if o["data_point_id"] else "",
            o["value_before"],
            o["value_after"],
            o["year_before"],
            o["year_after"],
        )
        for o in outcomes
        if o["case_study_id"] == case_id
    )
    fields = ("data_point", "value_before", "value_after", "year_before", "year_after")
    assert [(o["kpi"]["code"], o["kpi"]["slug"], *(o[f] for f in fields)) for o in body["outcomes"]] == expected
    published = data.published_solutions
    assert {s["id"] for s in body["solutions"]} == {
        r["solution_id"]
        for r in data("case_study_solution")
        if r["case_study_id"] == case_id and r["solution_id"] in published
    }
    tag = response.headers["etag"]
    assert tag == f'"case_study-{case_id}-v{row["version"]}"'
    assert api.get(f"/api/v1/case-studies/{case_id}", headers={"If-None-Match": tag}).status_code == 304


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "query.limit"),
        ({"year_from": 1800}, "query.year_from"),
        ({"year_to": "recent"}, "query.year_to"),
        ({"demo": "maybe"}, "query.demo"),
        ({"sort": "oldest"}, "query.sort"),
        ({"city": 0}, "query.city"),
    ],
)
def test_bad_parameters(api: TestClient, params: dict[str, Any], field: str) -> None:
    assert_problem(api.get("/api/v1/case-studies", params=params), 422, field)


def test_unknown_id(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/case-studies/999999"), 404)


def test_graphql_matches_rest(api: TestClient, data: Data) -> None:
    rest = all_pages(api, "/api/v1/case-studies", limit=100, year_from=2015)
    nodes = gql_all(api, "caseStudies", "id title year language cityId city { id name }", yearFrom=2015)
    assert [n["id"] for n in nodes] == [c["id"] for c in rest]
    for node, item in zip(nodes, rest, strict=True):
        assert node["city"] == (item["city"] and {"id": item["city"]["id"], "name": item["city"]["name"]})
    case_id = _most_common(
        [o["case_study_id"] for o in data("case_study_outcome") if o["case_study_id"] in _published(data)]
    )
    detail = api.get(f"/api/v1/case-studies/{case_id}").json()
    node = gql(
        api,
        """query ($id: Int!) { caseStudy(id: $id) { title summary body sourceUrl
             outcomes { kpi { slug code name } dataPoint valueBefore valueAfter yearBefore yearAfter note }
             solutions { id slug title vendorId } } }""",
        id=case_id,
    )["caseStudy"]
    assert (node["title"], node["summary"], node["body"], node["sourceUrl"]) == (
        detail["title"],
        detail["summary"],
        detail["body"],
        detail["source_url"],
    )
    assert [
        {
            "kpi": o["kpi"],
            "data_point": o["dataPoint"],
            "value_before": o["valueBefore"],
            "value_after": o["valueAfter"],
            "year_before": o["yearBefore"],
            "year_after": o["yearAfter"],
            "note": o["note"],
        }
        for o in node["outcomes"]
    ] == detail["outcomes"]
    assert [
        {"id": s["id"], "slug": s["slug"], "title": s["title"], "vendor_id": s["vendorId"]} for s in node["solutions"]
    ] == (detail["solutions"])
