"""The seeded human translations reach REST readers: the real listing in German for Accept-Language: de, the
English original for Accept-Language: fi."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_seeded_listing_answers_in_german_and_falls_back_to_english(read_client: TestClient) -> None:
    items = read_client.get("/api/v1/solutions", params={"limit": 100}).json()["items"]
    cube = next(i for i in items if i["slug"] == "mann-hummel-filter-cube")
    path = f"/api/v1/solutions/{cube['id']}"

    de = read_client.get(path, headers={"Accept-Language": "de"})
    assert de.headers["Content-Language"] == "de"
    assert de.json()["title"].startswith("Filter Cube Feinstaubfiltersäulen")
    assert de.json()["field_languages"] == {"title": "de", "summary": "de", "description": "de"}

    fi = read_client.get(path, headers={"Accept-Language": "fi"})
    assert fi.headers["Content-Language"] == "en"
    assert fi.json()["title"] == cube["title"]
    assert fi.json()["language"] == "en"
    assert "Accept-Language" in fi.headers["Vary"]

    nb = read_client.get(path, headers={"Accept-Language": "no"})
    assert nb.json()["title"].startswith("Filter Cube filtersøyler")
    assert nb.headers["Content-Language"] == "nb"
