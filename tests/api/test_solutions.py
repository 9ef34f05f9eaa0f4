"""Solutions through REST and GraphQL: filters, visibility of unpublished listings, details, ETags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.principal import Principal
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


def _impacts(data: Data) -> list[dict[str, Any]]:
    kpis = data.by_id("kpi")
    return [{**i, "kpi": kpis[i["kpi_id"]]} for i in data("solution_kpi_impact")]


def _with(data: Data, table: str, column: str, value: Any) -> set[int]:
    return {r["solution_id"] for r in data(table) if r[column] == value}


def _most_common(values: list[Any]) -> Any:
    return max(set(values), key=values.count)


# Each case: (the query parameters, the published solution ids it should keep), both computed from the data.
FILTERS: dict[str, Callable[[Data], tuple[dict[str, Any], set[int]]]] = {
    "vendor": lambda d: (
        {"vendor": (v := _most_common([s["vendor_id"] for s in d.published_solutions.values()]))},
        {s for s, row in d.published_solutions.items() if row["vendor_id"] == v},
    ),
    "country": lambda d: ({"country": "no"}, _with(d, "solution_country", "country_code", "NO")),
    "category": lambda d: (
        {"category": (c := _most_common([r["category"] for r in d("solution_category")])).upper()},
        _with(d, "solution_category", "category", c),
    ),
    "dimension": lambda d: (
        {"dimension": "environment"},
        {i["solution_id"] for i in _impacts(d) if i["kpi"]["dimension"] == "Environment"},
    ),
    "kpi slug": lambda d: (
        {"kpi": "EC-I-WS-3C"},
        {i["solution_id"] for i in _impacts(d) if i["kpi"]["slug"] == "EC-I-WS-3C"},
    ),
    "kpi code": lambda d: (
        {"kpi": "EC: I: WS: 3C"},
        {i["solution_id"] for i in _impacts(d) if i["kpi"]["code"] == "EC: I: WS: 3C"},
    ),
    "sdg": lambda d: ({"sdg": 6}, _with(d, "solution_sdg", "sdg", 6)),
    "maturity": lambda d: ({"maturity": "pilot"}, {s["id"] for s in d("solution") if s["maturity"] == "pilot"}),
    "price model": lambda d: (
        {"price_model": "subscription"},
        {s["id"] for s in d("solution") if s["price_model"] == "subscription"},
    ),
    "language": lambda d: ({"language": "DE"}, _with(d, "solution_language", "language", "de")),
    "evidence at least piloted": lambda d: (
        {"evidence": "piloted"},
        {i["solution_id"] for i in _impacts(d) if i["evidence_level"] in ("piloted", "verified")},
    ),
    "evidence verified": lambda d: (
        {"evidence": "verified"},
        {i["solution_id"] for i in _impacts(d) if i["evidence_level"] == "verified"},
    ),
    "kpi and evidence on the same claim": lambda d: (
        {"kpi": "EN-EN-AQ-1C", "evidence": "piloted"},
        {
            i["solution_id"]
            for i in _impacts(d)
            if i["kpi"]["slug"] == "EN-EN-AQ-1C" and i["evidence_level"] in ("piloted", "verified")
        },
    ),
    "hub": lambda d: (
        {"hub": (h := min(d.by_id("hub")))},
        {e["solution_id"] for e in d("hub_catalogue_entry") if e["hub_id"] == h and e["status"] != "hidden"},
    ),
    "status published": lambda d: ({"status": "published"}, set(d.published_solutions)),
    "two filters": lambda d: (
        {"country": "DE", "maturity": "scaled"},
        _with(d, "solution_country", "country_code", "DE")
        & {s["id"] for s in d("solution") if s["maturity"] == "scaled"},
    ),
}


@pytest.mark.parametrize("name", FILTERS)
def test_filters_keep_the_matching_published_solutions(api: TestClient, data: Data, name: str) -> None:
    params, matching = FILTERS[name](data)
    expected = matching & set(data.published_solutions)
    assert expected, f"{name}: the filter should match published solutions in the seed"
    assert expected != set(data.published_solutions) or name == "status published"
    assert set(ids(api, "/api/v1/solutions", **params)) == expected


def test_anonymous_lists_every_published_solution_by_title(api: TestClient, data: Data) -> None:
    items = all_pages(api, "/api/v1/solutions", limit=6)
    assert {s["id"] for s in items} == set(data.published_solutions)
    assert [(s["title"], s["id"]) for s in items] == sorted((s["title"], s["id"]) for s in items)
    assert {s["status"] for s in items} == {"published"}
    vendors = data.by_id("vendor")
    assert all(s["vendor"]["name"] == vendors[s["vendor_id"]]["name"] for s in items)


def test_sorts_are_stable_across_page_sizes(api: TestClient, data: Data) -> None:
    for sort in ("alphabetical", "newest"):
        assert ids(api, "/api/v1/solutions", limit=4, sort=sort) == ids(api, "/api/v1/solutions", limit=100, sort=sort)
    assert ids(api, "/api/v1/solutions", sort="newest") == sorted(data.published_solutions, reverse=True)


def test_unpublished_listings_are_hidden_from_anonymous(api: TestClient, data: Data) -> None:
    hidden = [s["id"] for s in data("solution") if s["status"] != "published"]
    assert hidden
    assert ids(api, "/api/v1/solutions", status="draft") == []
    for solution_id in hidden:
        body = assert_problem(api.get(f"/api/v1/solutions/{solution_id}"), 404)
        assert str(solution_id) in body["detail"]
    errors = gql_errors(api, "query ($id: Int!) { solution(id: $id) { title } }", id=hidden[0])
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


def test_a_vendor_member_sees_its_own_drafts_only(api: TestClient, data: Data) -> None:
    own = data.draft_vendor_id
    own_drafts = {s["id"] for s in data("solution") if s["vendor_id"] == own}
    others_drafts = {s["id"] for s in data("solution") if s["vendor_id"] != own and s["status"] != "published"}
    assert own_drafts
    with acting_as(api, vendor_member(own)):
        listed = set(ids(api, "/api/v1/solutions"))
        assert listed == set(data.published_solutions) | own_drafts
        assert set(ids(api, "/api/v1/solutions", status="draft")) == {
            s for s in own_drafts if data.by_id("solution")[s]["status"] == "draft"
        }
        for solution_id in own_drafts:
            assert api.get(f"/api/v1/solutions/{solution_id}").status_code == 200
        for solution_id in others_drafts:
            assert api.get(f"/api/v1/solutions/{solution_id}").status_code == 404
        node = gql(api, "query ($id: Int!) { solution(id: $id) { status } }", id=min(own_drafts))["solution"]
        assert node["status"] in ("draft", "submitted")
    # The role without a scope that reads drafts is not enough.
    role_only = Principal(subject="user:9001", user_id=9001, memberships=vendor_member(own).memberships)
    with acting_as(api, role_only):
        assert set(ids(api, "/api/v1/solutions")) == set(data.published_solutions)


def test_an_admin_sees_every_listing(api: TestClient, data: Data) -> None:
    with acting_as(api, admin()):
        assert set(ids(api, "/api/v1/solutions", limit=100)) == set(data.by_id("solution"))


def test_get_with_impacts_deployments_and_vendor(api: TestClient, data: Data) -> None:
    impacts = _impacts(data)
    # The published listing with the most claims, so that the ordering is checked too.
    claims = [i["solution_id"] for i in impacts if i["solution_id"] in data.published_solutions]
    solution_id = _most_common(claims)
    row = data.by_id("solution")[solution_id]
    response = api.get(f"/api/v1/solutions/{solution_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == row["title"]
    assert body["vendor"]["id"] == row["vendor_id"]
    assert body["vendor"]["name"] == data.by_id("vendor")[row["vendor_id"]]["name"]
    points = data.by_id("kpi_data_point")
    expected = sorted(
        (
            i["kpi"]["code"],
            i["kpi"]["slug"],
            i["kpi"]["name"],
            points[i["data_point_id"]]["key"] if i["data_point_id"] else "",
            i["expected_effect"],
            i["evidence_level"],
            i["case_study_id"],
        )
        for i in impacts
        if i["solution_id"] == solution_id
    )
    assert [
        (
            c["kpi"]["code"],
            c["kpi"]["slug"],
            c["kpi"]["name"],
            c["data_point"],
            c["expected_effect"],
            c["evidence_level"],
            c["case_study_id"],
        )
        for c in body["kpi_impacts"]
    ] == expected
    assert all(c["case_study_id"] for c in body["kpi_impacts"] if c["evidence_level"] == "verified")
    cities = data.by_id("city")
    assert sorted((d["city_id"], d["city_name"], d["year"]) for d in body["deployments"]) == sorted(
        (d["city_id"], cities[d["city_id"]]["name"], d["year"])
        for d in data("solution_deployment")
        if d["solution_id"] == solution_id
    )
    for column, table, field in (
        ("category", "solution_category", "categories"),
        ("sdg", "solution_sdg", "sdgs"),
        ("country_code", "solution_country", "countries"),
        ("language", "solution_language", "languages"),
    ):
        assert body[field] == sorted(r[column] for r in data(table) if r["solution_id"] == solution_id)


def test_etag_and_not_modified(api: TestClient, data: Data) -> None:
    solution_id = min(data.published_solutions)
    response = api.get(f"/api/v1/solutions/{solution_id}")
    tag = response.headers["etag"]
    assert tag == f'"solution-{solution_id}-v{data.by_id("solution")[solution_id]["version"]}"'
    again = api.get(f"/api/v1/solutions/{solution_id}", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.headers["etag"] == tag
    assert api.get(f"/api/v1/solutions/{solution_id}", headers={"If-None-Match": "*"}).status_code == 304
    assert api.get(f"/api/v1/solutions/{solution_id}", headers={"If-None-Match": '"x"'}).status_code == 200
    # A hidden listing is a 404 whatever the caller claims to have cached.
    hidden = next(s["id"] for s in data("solution") if s["status"] != "published")
    assert api.get(f"/api/v1/solutions/{hidden}", headers={"If-None-Match": "*"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"maturity": "ancient"}, "query.maturity"),
        ({"price_model": "barter"}, "query.price_model"),
        ({"evidence": "rumour"}, "query.evidence"),
        ({"status": "secret"}, "query.status"),
        ({"sort": "-title"}, "query.sort"),
        ({"sdg": 18}, "query.sdg"),
        ({"vendor": "acme"}, "query.vendor"),
        ({"country": "NOR"}, "query.country"),
        ({"language": "english"}, "query.language"),
        ({"cursor": "!!"}, "query.cursor"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(api: TestClient, params: dict[str, Any], field: str) -> None:
    assert_problem(api.get("/api/v1/solutions", params=params), 422, field)


def test_unknown_ids(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/solutions/999999"), 404)
    assert_problem(api.get("/api/v1/solutions/x"), 422, "path.solution_id")
    errors = gql_errors(api, "{ solutions(first: 101) { totalCount } }")
    assert errors[0]["extensions"]["code"] == "INVALID_INPUT"


def test_graphql_list_matches_rest(api: TestClient) -> None:
    params = {"evidence": "piloted", "country": "DE"}
    rest = all_pages(api, "/api/v1/solutions", limit=100, **params)
    nodes = gql_all(
        api,
        "solutions",
        "id title status maturity priceModel categories sdgs countries languages vendor { id name }",
        evidence="piloted",
        country='"DE"',
    )
    assert rest
    assert [n["id"] for n in nodes] == [s["id"] for s in rest]
    for node, item in zip(nodes, rest, strict=True):
        assert node["title"] == item["title"]
        assert node["maturity"] == item["maturity"]
        assert node["priceModel"] == item["price_model"]
        assert (node["categories"], node["sdgs"], node["countries"], node["languages"]) == (
            item["categories"],
            item["sdgs"],
            item["countries"],
            item["languages"],
        )
        assert node["vendor"] == {"id": item["vendor"]["id"], "name": item["vendor"]["name"]}


def test_graphql_detail_matches_rest(api: TestClient, data: Data) -> None:
    solution_id = _most_common([d["solution_id"] for d in data("solution_deployment")])
    rest = api.get(f"/api/v1/solutions/{solution_id}").json()
    node = gql(
        api,
        """query ($id: Int!) { solution(id: $id) { id slug title description version vendor { id name }
             kpiImpacts { kpi { slug code name } dataPoint expectedEffect effect evidenceLevel caseStudyId note }
             deployments { cityId cityName year city { id name } } } }""",
        id=solution_id,
    )["solution"]
    assert (node["slug"], node["title"], node["description"], node["version"]) == (
        rest["slug"],
        rest["title"],
        rest["description"],
        rest["version"],
    )
    assert node["vendor"] == {"id": rest["vendor"]["id"], "name": rest["vendor"]["name"]}
    assert [
        {
            "kpi": i["kpi"],
            "data_point": i["dataPoint"],
            "expected_effect": i["expectedEffect"],
            "evidence_level": i["evidenceLevel"],
            "case_study_id": i["caseStudyId"],
            "note": i["note"],
        }
        for i in node["kpiImpacts"]
    ] == rest["kpi_impacts"]
    assert all(i["effect"] == i["expectedEffect"] for i in node["kpiImpacts"])
    assert [{"city_id": d["cityId"], "city_name": d["cityName"], "year": d["year"]} for d in node["deployments"]] == (
        rest["deployments"]
    )
    assert all(d["city"] == {"id": d["cityId"], "name": d["cityName"]} for d in node["deployments"])
