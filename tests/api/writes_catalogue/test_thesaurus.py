"""The thesaurus in the database (app/search_index/thesaurus_service.py): seeded from seeds/data/thesaurus.yaml,
read by anyone, edited by admins (create a concept, add and remove a term), validated, audited, and each edit
queued in the search outbox for the engines' synonyms (the engines themselves: tests/search_app)."""

from __future__ import annotations

from typing import Any

import yaml

from app.identity.models import Role
from app.search_index.thesaurus import THESAURUS_FILE
from tests.api.writes_catalogue.conftest import ADMIN, VENDOR, Api, assert_problem

WATER = "/api/v1/thesaurus/concepts/water-loss"


def _outbox(api: Api) -> list[int]:
    rows = api.rows("SELECT object_id FROM search_outbox WHERE index_name = 'thesaurus' AND processed_at IS NULL")
    return [r["object_id"] for r in rows]


def test_the_seed_file_is_the_initial_thesaurus_and_anyone_reads_it(api: Api) -> None:
    seeded = yaml.safe_load(THESAURUS_FILE.read_text(encoding="utf-8"))
    page = api.get("/api/v1/thesaurus/concepts", limit=5)
    assert page.status_code == 200, page.text
    assert page.json()["total"] == len(seeded)
    assert len(page.json()["items"]) == 5
    rest = api.get("/api/v1/thesaurus/concepts", limit=100, cursor=page.json()["next_cursor"]).json()["items"]
    slugs = [c["slug"] for c in page.json()["items"] + rest]
    assert slugs == sorted(e["concept"] for e in seeded)
    water = api.get(WATER).json()
    file_terms = next(e["terms"] for e in seeded if e["concept"] == "water-loss")
    assert {(t["language"], t["term"]) for t in water["terms"]} == {
        (lang, term) for lang, terms in file_terms.items() for term in terms
    }
    assert_problem(api.get("/api/v1/thesaurus/concepts/no-such-concept"), 404, "no-such-concept")


def test_admins_add_and_remove_a_term_idempotently_and_audited(api: Api) -> None:
    path = f"{WATER}/terms/de/Rohrbruchortung"
    assert api.call("PUT", path, None).status_code == 401
    assert_problem(api.call("PUT", path, VENDOR), 403)
    added = api.call("PUT", path, ADMIN)
    assert added.status_code == 201, added.text
    assert {"language": "de", "term": "Rohrbruchortung"} in added.json()["terms"]
    concept_id = added.json()["id"]
    assert _outbox(api) == [concept_id]  # the synonyms' push is queued in the same transaction
    # Again, in another case: nothing changes, nothing is queued or audited.
    again = api.call("PUT", f"{WATER}/terms/DE/rohrbruchortung", ADMIN)
    assert again.status_code == 200
    assert again.json() == added.json()
    assert _outbox(api) == [concept_id]

    assert_problem(api.call("DELETE", path, VENDOR), 403)
    assert api.call("DELETE", path, ADMIN).status_code == 204
    assert {"language": "de", "term": "Rohrbruchortung"} not in api.get(WATER).json()["terms"]
    assert_problem(api.call("DELETE", path, ADMIN), 404, "Rohrbruchortung")
    assert _outbox(api) == [concept_id, concept_id]
    events = api.audit("thesaurus_concept", concept_id)
    assert [e["action"] for e in events] == ["thesaurus.term.add", "thesaurus.term.remove"]
    assert events[0]["changes"] == {"language": "de", "term": "Rohrbruchortung"}


def test_writes_are_validated_with_a_useful_detail(api: Api) -> None:
    assert_problem(api.call("PUT", f"{WATER}/terms/fi/vesivuoto", ADMIN), 422, "fi", "en, fr")  # not a search language
    assert_problem(api.call("PUT", f"{WATER}/terms/d%20e/Leck", ADMIN), 422, "BCP 47")
    assert_problem(api.call("PUT", f"{WATER}/terms/de/%20%20", ADMIN), 422, "empty")
    assert_problem(api.call("PUT", f"{WATER}/terms/de/{'x' * 101}", ADMIN), 422, "101", "100")
    assert_problem(api.call("PUT", f"{WATER}/terms/de/Leck%00age", ADMIN), 422, "U+0000")
    # A '/' could never be removed through the path: refused where a term comes in a body.
    slashed = {"slug": "slashed", "terms": [{"language": "en", "term": "km/h"}]}
    assert_problem(api.call("POST", "/api/v1/thesaurus/concepts", ADMIN, json=slashed), 422, "'/'")
    assert_problem(api.call("PUT", "/api/v1/thesaurus/concepts/nope/terms/de/Leck", ADMIN), 404, "nope")
    assert (
        api.call("PUT", f"{WATER}/terms/pt-br/vazamento", ADMIN)
        .json()["terms"]
        .count({"language": "pt-BR", "term": "vazamento"})
        == 1
    )  # the tag normalised


def test_admins_create_a_concept_once(api: Api) -> None:
    body = {
        "slug": "noise-pollution",
        "terms": [{"language": "en", "term": "noise"}, {"language": "de", "term": "Lärm"}],
    }
    assert_problem(api.call("POST", "/api/v1/thesaurus/concepts", VENDOR, json=body), 403)
    created = api.call("POST", "/api/v1/thesaurus/concepts", ADMIN, json=body, key="noise-1")
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith("/api/v1/thesaurus/concepts/noise-pollution")
    assert created.json()["terms"] == [{"language": "de", "term": "Lärm"}, {"language": "en", "term": "noise"}]
    replay = api.call("POST", "/api/v1/thesaurus/concepts", ADMIN, json=body, key="noise-1")
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
    assert_problem(api.call("POST", "/api/v1/thesaurus/concepts", ADMIN, json=body), 409, "noise-pollution")
    bad = {"slug": "noise-2", "terms": [{"language": "xx-zz-1", "term": "noise"}]}
    problem = assert_problem(api.call("POST", "/api/v1/thesaurus/concepts", ADMIN, json=bad), 422, "xx-zz-1")
    assert [e["field"] for e in problem["errors"]] == ["body.terms.0.language"]
    assert_problem(api.call("POST", "/api/v1/thesaurus/concepts", ADMIN, json={"slug": "Not A Slug"}), 422)
    assert api.get("/api/v1/thesaurus/concepts/noise-2").status_code == 404  # nothing half-made
    assert [e["action"] for e in api.audit("thesaurus_concept", created.json()["id"])] == ["thesaurus.concept.create"]


CONCEPT = "... on ThesaurusConcept { id slug terms { language term } }"
ERROR = "... on MutationError { code message fieldErrors { field } }"
ADD = (
    f"mutation($c: String!, $l: String!, $t: String!) {{ addThesaurusTerm(concept: $c, lang: $l, term: $t) "
    f"{{ {CONCEPT} {ERROR} }} }}"
)
REMOVE = (
    f"mutation($c: String!, $l: String!, $t: String!) {{ removeThesaurusTerm(concept: $c, lang: $l, term: $t) "
    f"{{ {CONCEPT} {ERROR} }} }}"
)
CREATE = (
    "mutation($input: ThesaurusConceptCreateInput!, $key: String) { createThesaurusConcept(input: $input, "
    f"idempotencyKey: $key) {{ {CONCEPT} {ERROR} }} }}"
)


def _gql(api: Api, query: str, role: Role | None = None, **variables: Any) -> Any:
    headers = api.headers(role) if role is not None else {}
    answer = api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()
    assert "errors" not in answer, answer
    return answer["data"]


def test_graphql_reads_and_writes_as_rest_does(api: Api) -> None:
    page = _gql(api, "{ thesaurusConcepts(first: 2) { totalCount edges { node { slug terms { language } } } } }")
    rest = api.get("/api/v1/thesaurus/concepts", limit=2).json()
    connection = page["thesaurusConcepts"]
    assert connection["totalCount"] == rest["total"]
    assert [e["node"]["slug"] for e in connection["edges"]] == [c["slug"] for c in rest["items"]]

    refused = _gql(api, ADD, VENDOR, c="water-loss", l="de", t="Rohrbruchortung")["addThesaurusTerm"]
    assert refused["code"] == "FORBIDDEN"
    added = _gql(api, ADD, ADMIN, c="water-loss", l="de", t="Rohrbruchortung")["addThesaurusTerm"]
    assert {"language": "de", "term": "Rohrbruchortung"} in added["terms"]
    assert added == api.get(WATER).json()
    bad = _gql(api, ADD, ADMIN, c="water-loss", l="fi", t="vesivuoto")["addThesaurusTerm"]
    assert bad["code"] == "VALIDATION_ERROR"
    assert "fi" in bad["message"]
    assert [f["field"] for f in bad["fieldErrors"]] == ["path.lang"]
    removed = _gql(api, REMOVE, ADMIN, c="water-loss", l="de", t="Rohrbruchortung")["removeThesaurusTerm"]
    assert removed == api.get(WATER).json()
    gone = _gql(api, REMOVE, ADMIN, c="water-loss", l="de", t="Rohrbruchortung")["removeThesaurusTerm"]
    assert gone["code"] == "NOT_FOUND"

    body = {"slug": "heat-island", "terms": [{"language": "de", "term": "Hitzeinsel"}]}
    created = _gql(api, CREATE, ADMIN, input=body, key="heat-1")["createThesaurusConcept"]
    assert created == api.get("/api/v1/thesaurus/concepts/heat-island").json()
    # The key spans both faces: REST's POST with it replays the GraphQL create.
    replay = api.call("POST", "/api/v1/thesaurus/concepts", ADMIN, json=body, key="heat-1")
    assert (replay.status_code, replay.headers.get("Idempotent-Replayed")) == (201, "true")
    again = _gql(api, CREATE, ADMIN, input=body)["createThesaurusConcept"]
    assert again["code"] == "CONFLICT"
    one = _gql(api, '{ thesaurusConcept(slug: "heat-island") { slug terms { term } } }')["thesaurusConcept"]
    assert one == {"slug": "heat-island", "terms": [{"term": "Hitzeinsel"}]}
