"""Search as a user meets it: GET /api/v1/search and GraphQL `search`, on the embedded engine."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.main import create_app
from app.search_index.documents import BUILDERS, searchable_ids
from app.search_index.indexes import SOLUTIONS
from app.solutions.models import ListingStatus, Solution
from app.vendors.models import Vendor
from search import create_engine
from tests.conftest import TestDatabase
from tests.search_app.conftest import wait_until_consistent


def test_fine_dust_with_a_typo_finds_the_stuttgart_case_study_first(search_client: TestClient) -> None:
    body = search_client.get("/api/v1/search", params={"q": "fine dsut stuttgart", "per_page": 100}).json()
    first = body["hits"][0]
    assert first["type"] == "case_study"
    assert "Stuttgart" in first["title"]
    assert "<mark>" in first["highlights"]["title"]
    # Facets count exactly what matched: per type and per category.
    types = [h["type"] for h in body["hits"]]
    assert body["total"] == len(types)
    assert body["facets"]["type"] == {t: types.count(t) for t in set(types)}
    categories = [c for h in body["hits"] for c in h["categories"]]
    assert body["facets"]["category"] == {c: categories.count(c) for c in set(categories)}


def test_hits_come_in_the_askers_language_and_translated_text_is_searched(search_client: TestClient) -> None:
    """The seeded translations (seeds/data/demo/*translations.yaml) on the seeded catalogue: a German asker reads
    the Stuttgart case study's German title, a Finnish one the English original; a word only the German
    translation has finds it."""
    params = {"q": "Feinstaub Stuttgart", "per_page": 3}
    de = search_client.get("/api/v1/search", params=params, headers={"Accept-Language": "de"})
    first = de.json()["hits"][0]
    assert (first["type"], first["language"], first["title"]) == ("case_study", "de", "Feinstaubfilterung in Stuttgart")
    assert "de" in de.headers["Content-Language"]
    assert "Accept-Language" in de.headers["Vary"]
    fi = search_client.get("/api/v1/search", params=params, headers={"Accept-Language": "fi"}).json()["hits"][0]
    assert (fi["id"], fi["language"], fi["title"]) == (first["id"], "en", "Fine dust filtration in Stuttgart")
    translated_only = search_client.get("/api/v1/search", params={"q": "Feinstaubfiltersäulen", "type": "solution"})
    assert [h["id"] for h in translated_only.json()["hits"]][:1] == [
        h["id"]
        for h in search_client.get("/api/v1/search", params={"q": "Filter Cube", "type": "solution"}).json()["hits"]
    ][:1]
    query = '{ search(q: "fugas de agua", perPage: 3, lang: "es") { hits { title language } } }'
    hits = search_client.post("/graphql", json={"query": query}).json()["data"]["search"]["hits"]
    assert hits
    assert all(h["language"] in ("es", "en") for h in hits)


def test_one_typo_in_a_long_word_and_synonyms(search_client: TestClient) -> None:
    typo = search_client.get("/api/v1/search", params={"q": "fine dust stutgart"}).json()
    assert typo["hits"][0]["title"] == "Fine dust filtration in Stuttgart"
    synonym = search_client.get("/api/v1/search", params={"q": "particulate matter", "type": "case_study"}).json()
    assert "Fine dust filtration in Stuttgart" in [h["title"] for h in synonym["hits"]]


def test_filters_are_and_across_and_or_within(search_client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        ids = list(session.execute(searchable_ids(SOLUTIONS)).scalars().all())
        documents = BUILDERS[SOLUTIONS](session, ids)
    wanted = {
        d["id"] for d in documents
        if "EN-EN-AQ-1C" in d["kpis"] and ({"DE", "FR"} & set(d["countries"]))
    }  # fmt: skip
    body = search_client.get(
        "/api/v1/search",
        params=[
            ("type", "solution"),
            ("kpi", "EN: EN: AQ: 1C"),
            ("country", "DE"),
            ("country", "FR"),
            ("per_page", "100"),
        ],
    ).json()
    assert wanted
    assert {f"solution-{h['id']}" for h in body["hits"]} == wanted
    assert body["total"] == len(wanted)


def test_pages_cover_the_results_exactly_once(search_client: TestClient) -> None:
    seen: list[tuple[str, int]] = []
    total = None
    for page in range(1, 50):
        body = search_client.get("/api/v1/search", params={"q": "water", "per_page": 7, "page": page}).json()
        total = body["total"]
        seen += [(h["type"], h["id"]) for h in body["hits"]]
        if page * 7 >= total:
            break
    assert total
    assert len(seen) == total == len(set(seen))


def test_changes_reach_the_index_through_the_outbox(search_client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        solution = session.exec(select(Solution).where(Solution.status == ListingStatus.published)).first()
        assert solution is not None
        vendor = session.get(Vendor, solution.vendor_id)
        assert vendor is not None
        solution.status = ListingStatus.archived
        vendor.name = "Zyxwvut Renamed Systems"
        session.commit()
        archived_id, vendor_id = solution.id, vendor.id
    wait_until_consistent(search_client)
    archived = search_client.get("/api/v1/search", params={"type": "solution", "per_page": 100}).json()
    assert archived_id not in {h["id"] for h in archived["hits"]}
    # The vendor's new name reaches its listings' documents (a fan-out through the outbox).
    renamed = search_client.get("/api/v1/search", params={"q": "Zyxwvut", "type": "solution"}).json()
    with Session(engine) as session:
        listed = set(
            session.exec(
                select(Solution.id).where(Solution.vendor_id == vendor_id, Solution.status == ListingStatus.published)
            ).all()
        )
    assert {h["id"] for h in renamed["hits"]} == listed


def test_malformed_search_parameters_are_422_naming_them(search_client: TestClient) -> None:
    for params, field in (
        ({"type": "planet"}, "query.type"),
        ({"facets": "title"}, "query.facets"),
        ({"sort": "relevance:sideways"}, "query.sort"),
        ({"per_page": 101}, "query.per_page"),
    ):
        response = search_client.get("/api/v1/search", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert field in response.json()["detail"] or any(e["field"] == field for e in response.json()["errors"])


def test_graphql_search_matches_rest(search_client: TestClient) -> None:
    query = """query ($q: String!) { search(q: $q, perPage: 5) { total facets hits { type id title highlights } } }"""
    data = search_client.post("/graphql", json={"query": query, "variables": {"q": "fine dust"}}).json()["data"]
    rest = search_client.get("/api/v1/search", params={"q": "fine dust", "per_page": 5}).json()
    assert data["search"]["total"] == rest["total"]
    assert [(h["type"], h["id"]) for h in data["search"]["hits"]] == [(h["type"], h["id"]) for h in rest["hits"]]
    assert data["search"]["facets"] == rest["facets"]


def test_an_engine_that_is_down_makes_search_503_while_writes_succeed(db: TestDatabase, engine: Engine) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    down = create_engine("meilisearch", url=f"http://127.0.0.1:{closed_port}", api_key="x", index_prefix="down")
    app = create_app(db.settings(indexer_in_process=True), engine=engine, search=down)
    with TestClient(app) as client:
        response = client.get("/api/v1/search", params={"q": "water"})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"]
        with Session(engine) as session:  # a write while search is down commits as usual
            solution = session.exec(select(Solution)).first()
            assert solution is not None
            solution.title = "Written while search was down"
            session.commit()
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["search"]["backlog"] > 0
