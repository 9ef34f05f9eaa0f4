"""The KPI framework through REST: all 91 KPIs across pages, filters, and clear errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def _all_pages(client: TestClient, path: str, **params: object) -> tuple[list[dict[str, object]], list[int]]:
    items: list[dict[str, object]] = []
    totals: list[int] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        totals.append(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, totals


def test_all_91_kpis_across_pages_sorted_without_duplicates(read_client: TestClient) -> None:
    items, totals = _all_pages(read_client, "/api/v1/kpis", limit=25)
    assert set(totals) == {91}
    slugs = [item["slug"] for item in items]
    assert len(slugs) == 91 == len(set(slugs))
    codes = [item["code"] for item in items]
    assert codes == sorted(codes)
    assert {item["dimension"] for item in items} == {"Economy", "Environment", "Society and Culture"}


def test_air_pollution_with_its_data_points_and_benchmark_basis(read_client: TestClient) -> None:
    response = read_client.get("/api/v1/kpis/EN-EN-AQ-1C")
    assert response.status_code == 200
    kpi = response.json()
    assert kpi["name"] == "Air Pollution"
    assert kpi["code"] == "EN: EN: AQ: 1C"
    assert kpi["direction"] == "lower_is_better"
    points = {dp["key"]: dp for dp in kpi["data_points"]}
    assert set(points) == {"PM2.5", "PM10", "NO2", "SO2", "O3"}
    pm25 = points["PM2.5"]["benchmark"]
    assert pm25["value"] == 5.0
    assert pm25["basis_type"] == "WHO"
    assert "WHO 2021" in pm25["basis"]
    assert pm25["is_platform_default"] is True


def test_the_official_code_finds_the_kpi_too(read_client: TestClient) -> None:
    response = read_client.get("/api/v1/kpis/EN: EN: AQ: 1C")
    assert response.status_code == 200
    assert response.json()["slug"] == "EN-EN-AQ-1C"


def test_filters_combine(read_client: TestClient) -> None:
    items, totals = _all_pages(read_client, "/api/v1/kpis", dimension="environment", tier="core", limit=100)
    assert totals == [len(items)]
    assert items
    assert all(i["dimension"] == "Environment" and i["tier"] == "core" for i in items)
    water, _ = _all_pages(read_client, "/api/v1/kpis", category="Water and Sanitation")
    assert {w["subdimension"] for w in water} == {"ICT", "Infrastructure", "Environment"}
    sdg13, _ = _all_pages(read_client, "/api/v1/kpis", sdg=13)
    assert sdg13
    assert all(13 in k["sdgs"] for k in sdg13)
    assert "EN-EN-AQ-2C" in {k["slug"] for k in sdg13}


def test_unknown_slug_is_a_problem_with_a_useful_detail(read_client: TestClient) -> None:
    response = read_client.get("/api/v1/kpis/XX-NOPE-1C")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert "XX-NOPE-1C" in body["detail"]
    assert body["type"].endswith("/not-found")


def test_bad_query_parameters_are_422_naming_the_parameter(read_client: TestClient) -> None:
    for params, field in (
        ({"limit": 101}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"tier": "platinum"}, "query.tier"),
        ({"sdg": 18}, "query.sdg"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
    ):
        response = read_client.get("/api/v1/kpis", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert field in body["detail"]
        assert any(e["field"] == field for e in body["errors"])


def test_unknown_route_is_a_problem(read_client: TestClient) -> None:
    response = read_client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "/api/v1/nothing-here" in response.json()["detail"]
