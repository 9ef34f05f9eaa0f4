"""Translations of listings: the vendor PUTs one (REST and GraphQL), a human one is never replaced by a machine
one, and reads negotiate Accept-Language / ?lang= with a per-field fallback to the original."""

from __future__ import annotations

from app.core.negotiation import negotiate, parse_accept_language
from tests.api.writes_catalogue.conftest import ADMIN, CITY, VENDOR, Api, assert_problem


def test_accept_language_parsing_and_lookup() -> None:
    assert parse_accept_language("fi;q=0.5, de-AT, nb;q=0.8, *;q=0.1, x;y, en;q=0, fr;q=2") == ["de-AT", "nb", "fi"]
    assert parse_accept_language("") == []
    assert negotiate(["de-AT"], ["en", "de"]) == "de"
    assert negotiate(["no"], ["en", "nb"]) == "nb"
    assert negotiate(["fi", "sv"], ["en", "de"]) is None


def test_vendor_translates_and_readers_negotiate(api: Api) -> None:
    listing = api.published()
    sid = listing["id"]
    path = f"/api/v1/solutions/{sid}/translations/de"
    body = {"title": "Lecksucher für kleine Wasserwerke", "summary": "Findet Lecks aus Nachtdurchflussdaten."}

    # Who: a city official may not, the listing's vendor may (201, then 200 on replace).
    assert_problem(api.call("PUT", path, CITY, json=body), 403)
    created = api.call("PUT", path, VENDOR, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["origin"] == "human"
    assert created.json()["language"] == "de"
    # A machine translation never replaces the human one; the person may.
    assert_problem(api.call("PUT", path, ADMIN, json={**body, "origin": "machine"}), 409, "person")
    again = api.call("PUT", path, VENDOR, json={**body, "title": "Lecksucher für Wasserwerke"})
    assert again.status_code == 200
    assert again.json()["version"] == 2
    assert_problem(api.call("PUT", f"/api/v1/solutions/{sid}/translations/en", VENDOR, json=body), 409, "PATCH")
    assert_problem(api.call("PUT", f"/api/v1/solutions/{sid}/translations/d%20e", VENDOR, json=body), 422)

    # Reads: German asked, German title and summary, the description falls back to the English original.
    de = api.client.get(f"/api/v1/solutions/{sid}", headers={"Accept-Language": "fi;q=0.9, de-CH;q=0.8"})
    assert de.status_code == 200
    assert de.headers["Content-Language"] == "de"
    assert "Accept-Language" in de.headers["Vary"]
    out = de.json()
    assert out["title"] == "Lecksucher für Wasserwerke"
    assert out["language"] == "de"
    assert out["field_languages"] == {"title": "de", "summary": "de", "description": "en"}
    assert out["description"] == listing["description"]
    # Finnish: no translation, the English original, with its ETag.
    fi = api.client.get(f"/api/v1/solutions/{sid}", headers={"Accept-Language": "fi"})
    assert fi.headers["Content-Language"] == "en"
    assert fi.json()["title"] == listing["title"]
    assert "ETag" in fi.headers
    # ?lang= comes first; a malformed one is a 422 naming query.lang.
    assert (
        api.client.get(f"/api/v1/solutions/{sid}?lang=en", headers={"Accept-Language": "de"}).json()["language"] == "en"
    )
    assert_problem(api.client.get(f"/api/v1/solutions/{sid}?lang=de_DE!"), 422, "query.lang")
    listed = api.client.get("/api/v1/solutions", params={"lang": "de", "vendor": listing["vendor"]["id"]})
    item = next(i for i in listed.json()["items"] if i["id"] == sid)
    assert item["title"] == "Lecksucher für Wasserwerke"
    assert "de" in listed.headers["Content-Language"]

    # The audit trail has both puts.
    history = api.get(f"/api/v1/solutions/{sid}/history", ADMIN).json()["items"]
    assert [e["action"] for e in history].count("solution.translation.put") == 2

    # GraphQL: the same write and the same negotiation.
    mutation = """mutation($id: Int!) { putSolutionTranslation(id: $id, lang: "nb",
        input: {title: "Lekkasjesøker", origin: machine}) {
        __typename ... on SolutionTranslation { language origin } ... on MutationError { code } } }"""
    put = api.client.post(
        "/graphql", json={"query": mutation, "variables": {"id": sid}}, headers=api.headers(VENDOR)
    ).json()
    assert put["data"]["putSolutionTranslation"] == {
        "__typename": "SolutionTranslation",
        "language": "nb",
        "origin": "machine",
    }
    query = """query($id: Int!) {
        de: solution(id: $id, language: "de") { title language fieldLanguages { description } }
        no: solution(id: $id, language: "no") { title language } fi: solution(id: $id, language: "fi") { language } }"""
    data = api.client.post("/graphql", json={"query": query, "variables": {"id": sid}}).json()["data"]
    assert data["de"] == {
        "title": "Lecksucher für Wasserwerke",
        "language": "de",
        "fieldLanguages": {"description": "en"},
    }
    assert data["no"] == {"title": "Lekkasjesøker", "language": "nb"}
    assert data["fi"] == {"language": "en"}
    bad = api.client.post("/graphql", json={"query": '{ solution(id: 1, language: "x y") { id } }'}).json()
    assert bad["errors"]
    assert "lang" in str(bad["errors"])
