"""Cities through REST: listing, filters, sorting, and the latest KPI values of a city."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.test_kpis_api import PROBLEM, _all_pages


def _city_id(client: TestClient, name: str) -> int:
    body = client.get("/api/v1/cities", params={"q": name}).json()
    matches = [c for c in body["items"] if c["name"].lower() == name.lower()]
    assert len(matches) == 1, body
    return int(matches[0]["id"])


def test_list_all_cities_across_pages(read_client: TestClient) -> None:
    items, totals = _all_pages(read_client, "/api/v1/cities", limit=5)
    assert len(set(totals)) == 1
    assert totals[0] == len(items)
    assert len({c["id"] for c in items}) == len(items)
    names = [(c["name"], c["id"]) for c in items]
    assert names == sorted(names)
    assert {"Karmoy", "Stavanger", "Bizerte", "Pully", "Rana", "Alesund", "Valencia"} <= {
        c["name"].replace("ø", "o").replace("Å", "A").replace("å", "a") for c in items
    }


def test_filter_by_country_and_sort_by_population(read_client: TestClient) -> None:
    norway, _ = _all_pages(read_client, "/api/v1/cities", country="no")
    assert norway
    assert {c["country"]["code"] for c in norway} == {"NO"}
    by_population, _ = _all_pages(read_client, "/api/v1/cities", sort="-population", limit=3)
    populations = [c["population"] for c in by_population]
    assert populations == sorted(populations, reverse=True)


def test_city_detail_has_latest_published_values(read_client: TestClient) -> None:
    city_id = _city_id(read_client, "Stavanger")
    response = read_client.get(f"/api/v1/cities/{city_id}")
    assert response.status_code == 200
    city = response.json()
    assert city["kpi_values_visible"] is True
    values = {(v["kpi"], v["data_point"]): v for v in city["latest_kpi_values"]}
    patents = values[("EC-P-IN-2C", "")]
    assert patents["value"] == 333.72
    assert "Verification Report" in patents["source"]


def test_unknown_city_and_bad_id(read_client: TestClient) -> None:
    missing = read_client.get("/api/v1/cities/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert "999999" in missing.json()["detail"]
    bad = read_client.get("/api/v1/cities/abc")
    assert bad.status_code == 422
    assert "path.city_id" in bad.json()["detail"]
    bad_country = read_client.get("/api/v1/cities", params={"country": "NOR"})
    assert bad_country.status_code == 422
    assert "query.country" in bad_country.json()["detail"]
