"""The scorecard as a U4SSC wheel (SVG): a committed snapshot, its structure, caching, visibility, GraphQL.

The snapshot `snapshots/karmoy_wheel.svg` is the wheel of the Karmoy demo city. After a deliberate change to
the drawing (or to the demo data), regenerate it and review the diff:

    CITYMARKET_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q -n0 tests/scorecards/test_wheel.py
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.auth.principal import Scope
from app.cities.models import City
from tests.api.conftest import acting_as, assert_problem, city_official, gql
from tests.matches.conftest import observe
from tests.scorecards.test_scorecard import _city

SNAPSHOT = Path(__file__).parent / "snapshots" / "karmoy_wheel.svg"
NS = {"svg": "http://www.w3.org/2000/svg"}


def _karmoy(client: TestClient) -> int:
    items = client.get("/api/v1/cities", params={"q": "Karm"}).json()["items"]
    assert len(items) == 1, items
    return int(items[0]["id"])


def _wheel(client: TestClient, city: int, **params: object) -> str:
    response = client.get(f"/api/v1/cities/{city}/scorecard/wheel.svg", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["x-content-type-options"] == "nosniff"
    text: str = response.text
    return text


def _segments(root: ET.Element, level: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{{{NS['svg']}}}g") if g.get("data-level") == level]


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{{{NS['svg']}}}text")]


def test_karmoy_wheel_matches_the_snapshot(read_client: TestClient) -> None:
    svg = _wheel(read_client, _karmoy(read_client))
    if os.environ.get("CITYMARKET_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_bytes(svg.encode())
    assert svg.encode() == SNAPSHOT.read_bytes(), "the wheel changed: see the module docstring to regenerate"
    assert _wheel(read_client, _karmoy(read_client)) == svg  # deterministic, request after request


def test_wheel_structure_legend_title_and_caching(read_client: TestClient) -> None:
    karmoy = _karmoy(read_client)
    card = read_client.get(f"/api/v1/cities/{karmoy}/scorecard").json()
    root = ET.fromstring(_wheel(read_client, karmoy))
    assert root.get("role") == "img"
    title_id, desc_id = (root.get("aria-labelledby") or "").split()
    title, desc = root.find("svg:title", NS), root.find("svg:desc", NS)
    assert title is not None
    assert desc is not None
    assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
    assert title.text == f"U4SSC wheel of {card['city']['name']} (NO), latest values"
    assert len(_segments(root, "dimension")) == 3
    assert len(_segments(root, "subdimension")) == 7
    # U4SSC's 22 categories: five names recur under two or three sub-dimensions (Water and Sanitation under
    # ICT, Infrastructure and Environment), each with KPIs of its own, so the nested ring has 27 segments.
    categories = _segments(root, "category")
    assert len(categories) == len(card["categories"]) == 27
    assert len({c["category"] for c in card["categories"]}) == 22
    # Each category is readable without colour: its name, score and band are written out.
    texts = _texts(root)
    for c in card["categories"]:
        expected = "not scored" if c["band"] is None else f"{c['percent']:.0f} % ({c['band']})"
        assert f"{c['category']}: {expected}" in texts
    legend = next(g for g in root.iter(f"{{{NS['svg']}}}g") if g.get("class") == "legend")
    legend_texts = _texts(legend)
    for band in ("0-33 %", "33-66 %", "66-95 %", "95-100 %"):
        assert band in legend_texts
    assert any(t.startswith("not scored") for t in legend_texts)

    tag = read_client.get(f"/api/v1/cities/{karmoy}/scorecard/wheel.svg").headers["etag"]
    again = read_client.get(f"/api/v1/cities/{karmoy}/scorecard/wheel.svg", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.headers["etag"] == tag
    assert again.content == b""
    as_of = read_client.get(f"/api/v1/cities/{karmoy}/scorecard/wheel.svg", params={"year": 2000})
    assert as_of.status_code == 200
    assert as_of.headers["etag"] != tag
    assert "values up to 2000" in as_of.text


def test_unscored_categories_and_private_city(client: TestClient, engine: Engine) -> None:
    """Also: a name with markup in it is escaped (the document still parses, the title reads as given)."""
    city = _city(engine, "private-wheel", public=False)
    with Session(engine) as session:
        row = session.get(City, city)
        assert row is not None
        row.name = 'Ås & <Sønner> "By"'
        session.add(row)
        session.commit()
    observe(engine, city, "SC: EH: ED: 1C", 50)
    assert_problem(client.get(f"/api/v1/cities/{city}/scorecard/wheel.svg"), 404, "public")
    with acting_as(client, city_official(city, Scope.private_read)):
        response = client.get(f"/api/v1/cities/{city}/scorecard/wheel.svg")
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    assert root.findtext("svg:title", namespaces=NS) == 'U4SSC wheel of Ås & <Sønner> "By" (NO), latest values'
    bands = [g.get("data-band") for g in _segments(root, "category")]
    assert bands.count("not scored") == len(bands) - 1  # only Education has a scored value
    assert "Drainage: not scored" in _texts(root)
    assert "Education: 50 % (33-66 %)" in _texts(root)


def test_graphql_wheel_is_the_rest_bytes(read_client: TestClient) -> None:
    karmoy = _karmoy(read_client)
    data = gql(read_client, "query ($id: Int!) { scorecard(cityId: $id) { wheelSvg } }", id=karmoy)
    assert data["scorecard"]["wheelSvg"] == _wheel(read_client, karmoy)
