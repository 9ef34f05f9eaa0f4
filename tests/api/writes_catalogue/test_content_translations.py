"""Translations of case studies, procurement guidelines, challenges and KPIs (one mechanism, app/translations):
who may PUT one (the same as who may edit the item), a human translation never replaced by a machine one, the
audit trail, and the negotiated reads (Accept-Language, ?lang=, GraphQL `lang`) with a per-field fallback."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.api.writes_catalogue.conftest import ADMIN, CITY, VENDOR, Api, assert_problem


def _published(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    created = api.call("POST", path, ADMIN, json=body)
    assert created.status_code == 201, created.text
    one = f"{path}/{created.json()['id']}"
    published = api.call("POST", f"{one}/publish", ADMIN, if_match=api.etag(one))
    assert published.status_code == 200, published.text
    out: dict[str, Any] = published.json()
    return out


def _graphql(api: Api, query: str, role: Any = None, **variables: Any) -> dict[str, Any]:
    headers = api.headers(role) if role is not None else {}
    answer = api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def test_editors_translate_a_case_study_and_readers_negotiate(api: Api) -> None:
    case = _published(
        api,
        "/api/v1/case-studies",
        {"title": "Leak detection in the old town", "summary": "Loggers found the leaks.", "body": "Long story."},
    )
    cid = case["id"]
    path = f"/api/v1/case-studies/{cid}/translations/de"
    body = {"title": "Leckortung in der Altstadt", "summary": "Logger fanden die Lecks."}

    # Who: the editors (admins), as for every edit of editorial content.
    assert_problem(api.call("PUT", path, VENDOR, json=body), 403)
    assert api.call("PUT", path, None, json=body).status_code == 401
    created = api.call("PUT", path, ADMIN, json=body)
    assert created.status_code == 201, created.text
    assert created.headers["Content-Language"] == "de"
    assert created.json()["origin"] == "human"
    assert {t["field"] for t in created.json()["texts"]} == {"title", "summary"}
    # A machine translation never replaces a person's; a person's replaces it (version 2).
    assert_problem(api.call("PUT", path, ADMIN, json={**body, "origin": "machine"}), 409, "person")
    assert api.get(f"/api/v1/case-studies/{cid}").json()["title"] == case["title"]
    again = api.call("PUT", path, ADMIN, json={**body, "title": "Leckortung in der Stuttgarter Altstadt"})
    assert again.status_code == 200
    assert again.json()["version"] == 2
    assert_problem(api.call("PUT", f"/api/v1/case-studies/{cid}/translations/en", ADMIN, json=body), 409, "PATCH")
    assert_problem(api.call("PUT", f"/api/v1/case-studies/{cid}/translations/d%20e", ADMIN, json=body), 422)
    assert api.call("PUT", path, ADMIN, json={"summary": "no title"}).status_code == 422
    assert api.call("PUT", "/api/v1/case-studies/999999/translations/de", ADMIN, json=body).status_code == 404

    # Reads: German title and summary, the body falls back to the English original and says so.
    de = api.client.get(f"/api/v1/case-studies/{cid}", headers={"Accept-Language": "fi;q=0.9, de-AT;q=0.8"})
    assert de.status_code == 200
    assert de.headers["Content-Language"] == "de"
    assert "Accept-Language" in de.headers["Vary"]
    assert "ETag" not in de.headers
    out = de.json()
    assert out["title"] == "Leckortung in der Stuttgarter Altstadt"
    assert (out["language"], out["original_language"]) == ("de", "en")
    assert {f["field"]: f["language"] for f in out["field_languages"]} == {"title": "de", "summary": "de", "body": "en"}
    assert out["body"] == "Long story."
    fi = api.client.get(f"/api/v1/case-studies/{cid}", headers={"Accept-Language": "fi"})
    assert fi.headers["Content-Language"] == "en"
    assert fi.json()["title"] == case["title"]
    assert "ETag" in fi.headers
    assert_problem(api.client.get(f"/api/v1/case-studies/{cid}?lang=de_DE!"), 422, "query.lang")
    listed = api.client.get("/api/v1/case-studies", params={"lang": "de", "limit": 100})
    assert next(i for i in listed.json()["items"] if i["id"] == cid)["language"] == "de"
    assert "de" in listed.headers["Content-Language"]

    # Its own audit trail: both human puts, under the case study.
    actions = [e["action"] for e in api.audit("case_study", cid)]
    assert actions.count("case_study.translation.put") == 2
    assert [t["language"] for t in api.get(f"/api/v1/case-studies/{cid}/translations").json()] == ["de"]

    # GraphQL: the same write and the same negotiation.
    put = _graphql(
        api,
        """mutation($id: Int!) { putCaseStudyTranslation(id: $id, lang: "nb",
            input: {title: "Lekkasjesøk i gamlebyen", origin: machine}) {
            __typename ... on ContentTranslation { language origin } ... on MutationError { code } } }""",
        ADMIN,
        id=cid,
    )
    assert put["putCaseStudyTranslation"] == {"__typename": "ContentTranslation", "language": "nb", "origin": "machine"}
    data = _graphql(
        api,
        """query($id: Int!) { no: caseStudy(id: $id, lang: "no") { title language fieldLanguages { field language } }
            fi: caseStudy(id: $id, lang: "fi") { language title }
            list: caseStudies(lang: "de", first: 100) { edges { node { id title } } } }""",
        id=cid,
    )
    assert data["no"]["title"] == "Lekkasjesøk i gamlebyen"
    assert data["no"]["language"] == "nb"
    assert {"field": "summary", "language": "en"} in data["no"]["fieldLanguages"]
    assert data["fi"] == {"language": "en", "title": case["title"]}
    titles = {e["node"]["id"]: e["node"]["title"] for e in data["list"]["edges"]}
    assert titles[cid] == "Leckortung in der Stuttgarter Altstadt"


def test_a_challenge_is_translated_by_its_city_and_a_kpi_and_a_guideline_by_admins(api: Api) -> None:
    deadline = (date.today() + timedelta(days=60)).isoformat()
    challenge = api.call(
        "POST",
        "/api/v1/challenges",
        CITY,
        json={"city_id": api.world.city["a"], "title": "Cut water losses", "target_kpis": ["EN-EN-AQ-1C"],
              "deadline": deadline, "statement": "Our network loses a third of its water."},
    )  # fmt: skip
    assert challenge.status_code == 201, challenge.text
    chid = challenge.json()["id"]
    path = f"/api/v1/challenges/{chid}/translations/es"
    body = {"title": "Reducir las fugas de agua", "statement": "Nuestra red pierde un tercio del agua."}
    assert_problem(api.call("PUT", path, VENDOR, json=body), 403)
    assert api.call("PUT", path, CITY, json=body).status_code == 201
    es = api.client.get(f"/api/v1/challenges/{chid}", headers={"Accept-Language": "es-MX, en;q=0.5"})
    assert es.headers["Content-Language"] == "es"
    assert es.json()["statement"] == body["statement"]
    assert [e["action"] for e in api.audit("challenge", chid)].count("challenge.translation.put") == 1
    data = _graphql(api, 'query($id: Int!) { challenge(id: $id, lang: "es") { title language } }', id=chid)
    assert data["challenge"] == {"title": "Reducir las fugas de agua", "language": "es"}

    # KPIs: admins only; GET /kpis/{slug} answers in the caller's language.
    kpi_path = "/api/v1/kpis/EN-EN-AQ-1C/translations/fr"
    assert_problem(api.call("PUT", kpi_path, CITY, json={"name": "x"}), 403)
    put = _graphql(
        api,
        """mutation { putKpiTranslation(kpi: "EN-EN-AQ-1C", lang: "fr", input: {name: "Qualité de l'air"}) {
            __typename ... on ContentTranslation { kind itemId } } }""",
        ADMIN,
    )
    assert put["putKpiTranslation"]["kind"] == "kpi"
    fr = api.client.get("/api/v1/kpis/EN-EN-AQ-1C", headers={"Accept-Language": "fr-CA"})
    assert fr.headers["Content-Language"] == "fr"
    assert fr.json()["name"] == "Qualité de l'air"
    assert {f["field"]: f["language"] for f in fr.json()["field_languages"]} == {"name": "fr", "notes": "en"}
    assert api.client.get("/api/v1/kpis/EN-EN-AQ-1C").json()["language"] == "en"
    kpis = _graphql(api, '{ kpi(slug: "EN-EN-AQ-1C", lang: "fr") { name language } }')
    assert kpis["kpi"] == {"name": "Qualité de l'air", "language": "fr"}

    # Guidelines: the editors, through GraphQL; read back through REST.
    guideline = _published(
        api, "/api/v1/procurement-guidelines", {"title": "Buy outcomes, not sensors", "stage": "tender_design"}
    )
    gid = guideline["id"]
    title = "Покупайте результаты, а не датчики"  # noqa: RUF001  (Russian, in Cyrillic)
    mutation = """mutation($id: Int!, $title: String!) { putGuidelineTranslation(id: $id, lang: "ru",
        input: {title: $title}) { __typename ... on MutationError { code } } }"""
    refused = _graphql(api, mutation, VENDOR, id=gid, title=title)
    assert refused["putGuidelineTranslation"] == {"__typename": "MutationError", "code": "FORBIDDEN"}
    accepted = _graphql(api, mutation, ADMIN, id=gid, title=title)
    assert accepted["putGuidelineTranslation"] == {"__typename": "ContentTranslation"}
    ru = api.client.get(f"/api/v1/procurement-guidelines/{gid}", params={"lang": "ru"})
    assert ru.json()["title"] == title
    assert ru.headers["Content-Language"] == "ru"


def test_a_city_sets_its_challenges_original_language_on_both_faces(api: Api) -> None:
    """`original_language` on create and update (a BCP 47 tag, normalised; malformed: 422 naming the field), audited;
    the negotiation then falls back to it, and it cannot become a language the challenge is translated into."""
    deadline = (date.today() + timedelta(days=60)).isoformat()
    body = {"city_id": api.world.city["a"], "title": "Weniger Wasserverluste", "target_kpis": ["EN-EN-AQ-1C"],
            "deadline": deadline, "statement": "Unser Netz verliert ein Drittel des Wassers."}  # fmt: skip
    assert_problem(api.call("POST", "/api/v1/challenges", CITY, json={**body, "original_language": "de_DE"}), 422,
                   "body.original_language")  # fmt: skip
    created = api.call("POST", "/api/v1/challenges", CITY, json={**body, "original_language": "DE-at"})
    assert created.status_code == 201, created.text
    assert created.json()["original_language"] == "de-AT"
    chid = created.json()["id"]
    one = f"/api/v1/challenges/{chid}"
    assert api.client.get(one, headers={"Accept-Language": "fi"}).headers["Content-Language"] == "de-AT"

    assert_problem(api.call("PATCH", one, CITY, json={"original_language": "x"}, if_match=api.etag(one)), 422,
                   "body.original_language")  # fmt: skip
    assert api.call("PUT", f"{one}/translations/en", CITY, json={"title": "Fewer water losses"}).status_code == 201
    assert_problem(api.call("PATCH", one, CITY, json={"original_language": "en"}, if_match=api.etag(one)), 409, "en")
    changed = api.call("PATCH", one, CITY, json={"original_language": "de"}, if_match=api.etag(one))
    assert changed.status_code == 200, changed.text
    assert changed.json()["original_language"] == "de"
    update = next(e for e in api.audit("challenge", chid) if e["action"] == "challenge.update")
    assert "original_language" in str(update)

    mutation = """mutation($id: Int!, $v: Int!) { updateChallenge(id: $id, expectedVersion: $v,
        input: {originalLanguage: "nb"}) { __typename ... on Challenge { originalLanguage }
        ... on MutationError { code } } }"""
    version = api.get(one).json()["version"]
    refused = _graphql(api, mutation, VENDOR, id=chid, v=version)
    assert refused["updateChallenge"]["__typename"] == "MutationError"
    data = _graphql(api, mutation, CITY, id=chid, v=version)
    assert data["updateChallenge"] == {"__typename": "Challenge", "originalLanguage": "nb"}
    create = """mutation($input: ChallengeCreateInput!) { createChallenge(input: $input) {
        __typename ... on Challenge { originalLanguage } ... on MutationError { code } } }"""
    gql_body = {"cityId": body["city_id"], "title": "Lekkasjer", "targetKpis": body["target_kpis"],
                "deadline": deadline, "originalLanguage": "nb"}  # fmt: skip
    assert _graphql(api, create, CITY, input=gql_body)["createChallenge"] == {
        "__typename": "Challenge",
        "originalLanguage": "nb",
    }
    invalid = _graphql(api, create, CITY, input={**gql_body, "originalLanguage": "n b"})
    assert invalid["createChallenge"]["__typename"] == "MutationError"
