"""GraphQL creates take `idempotencyKey`, REST's Idempotency-Key: the same key and input replay the first object
(nothing new is written), the same key with another input is refused (VALIDATION_ERROR, idempotency-key-reused),
a bad key is refused as REST refuses it, a refused create stores no key, and a key spans both faces (a create
made through REST replays through GraphQL and the other way round).

Over the identity suite's world (tests/graphql/test_mutations.py), a fresh copy per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.identity.models import Role
from app.main import create_app
from tests.api.writes_catalogue.conftest import COMPLETE
from tests.conftest import DatabaseFactory, TestDatabase
from tests.graphql.test_mutations import ADMIN, CITY, ERROR_FIELDS, VENDOR, Gql, camel_input
from tests.identity.conftest import BASE_URL, World


@pytest.fixture(scope="session")
def idempotency_template(world_template: tuple[TestDatabase, World]) -> tuple[TestDatabase, World]:
    """The shared world template (tests/conftest.py `world_template`): tests copy it, none writes to it."""
    return world_template


@pytest.fixture
def gql(databases: DatabaseFactory, idempotency_template: tuple[TestDatabase, World]) -> Iterator[Gql]:
    db = databases.copy(idempotency_template[0])
    engine: Engine = db.engine()
    app: FastAPI = create_app(db.settings(), engine=engine)
    with TestClient(app, base_url=BASE_URL) as client:
        yield Gql(client, engine, idempotency_template[1], app)
    engine.dispose()


@dataclass(frozen=True)
class Create:
    """A create mutation and its REST twin: `body` builds REST's JSON body (the GraphQL input is the same,
    camelCased); `other` changes it into another request."""

    mutation: str
    input_type: str
    result_type: str
    role: Role
    path: str
    table: str
    body: Callable[[Gql], dict[str, Any]]
    other: Callable[[dict[str, Any]], dict[str, Any]]

    def query(self) -> str:
        return f"""mutation M($input: {self.input_type}!, $key: String) {{
          {self.mutation}(input: $input, idempotencyKey: $key) {{
            __typename ... on {self.result_type} {{ id version }} {ERROR_FIELDS}
          }}
        }}"""

    def call(self, gql: Gql, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        return gql.mutate(self.query(), self.role, input=camel_input(body), key=key)

    def made(self, gql: Gql, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        result = self.call(gql, body, key)
        assert result["__typename"] == self.result_type, result
        return result


def _deadline() -> str:
    return (date.today() + timedelta(days=30)).isoformat()


CREATES = {
    "solution": Create(
        "createSolution",
        "SolutionCreateInput",
        "Solution",
        VENDOR,
        "/api/v1/solutions",
        "solution",
        lambda gql: {**COMPLETE, "vendor_id": gql.world.vendor["a"]},
        lambda body: {**body, "title": "Something else entirely"},
    ),
    "challenge": Create(
        "createChallenge",
        "ChallengeCreateInput",
        "Challenge",
        CITY,
        "/api/v1/challenges",
        "challenge",
        lambda gql: {
            "city_id": gql.world.city["a"],
            "title": "Cleaner air",
            "target_kpis": ["EN-EN-AQ-1C"],
            "deadline": _deadline(),
        },
        lambda body: {**body, "title": "Quieter streets"},
    ),
    "guideline": Create(
        "createProcurementGuideline",
        "GuidelineCreateInput",
        "ProcurementGuideline",
        ADMIN,
        "/api/v1/procurement-guidelines",
        "procurement_guideline",
        lambda gql: {"title": "Ask for open data", "stage": "tender_design", "categories": ["ICT Infrastructure"]},
        lambda body: {**body, "stage": "evaluation"},
    ),
    "case study": Create(
        "createCaseStudy",
        "CaseStudyCreateInput",
        "CaseStudy",
        ADMIN,
        "/api/v1/case-studies",
        "case_study",
        lambda gql: {"title": "Night-flow analysis", "year": 2022},
        lambda body: {**body, "year": 2023},
    ),
}


def counts(gql: Gql, table: str) -> dict[str, int]:
    """Rows of the created kind, audit events and stored keys: equal counts mean nothing was written."""
    return {t: gql.scalar(f"SELECT count(*) FROM {t}") for t in (table, "audit_event", "idempotency_record")}


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_the_same_key_and_input_replay_the_first_object(gql: Gql, kind: str) -> None:
    create = CREATES[kind]
    body = create.body(gql)
    before = counts(gql, create.table)
    first = create.made(gql, body, key="gql-1")
    after_first = counts(gql, create.table)
    assert after_first[create.table] == before[create.table] + 1
    assert after_first["idempotency_record"] == before["idempotency_record"] + 1

    again = create.made(gql, body, key="gql-1")
    assert again == first  # the same object, read again by its id
    assert counts(gql, create.table) == after_first  # and nothing written: no row, no audit event, no key


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_the_same_key_with_another_input_is_refused(gql: Gql, kind: str) -> None:
    create = CREATES[kind]
    body = create.body(gql)
    create.made(gql, body, key="gql-1")
    before = counts(gql, create.table)

    error = create.call(gql, create.other(body), key="gql-1")
    assert error["__typename"] == "MutationError", error
    assert (error["code"], error["type"]) == ("VALIDATION_ERROR", "idempotency-key-reused")
    assert "idempotencyKey 'gql-1' was already used" in error["message"]
    assert f"POST {create.path}" in error["message"]
    assert counts(gql, create.table) == before
    # REST says the same for the same call (422, the same problem type).
    response = gql.call("POST", create.path, create.role, json=create.other(body), key="gql-1")
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/idempotency-key-reused")
    assert counts(gql, create.table) == before


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_without_a_key_each_call_creates(gql: Gql, kind: str) -> None:
    create = CREATES[kind]
    body = create.body(gql)
    before = counts(gql, create.table)
    one, two = create.made(gql, body), create.made(gql, body)
    assert one["id"] != two["id"]
    after = counts(gql, create.table)
    assert after[create.table] == before[create.table] + 2
    assert after["idempotency_record"] == before["idempotency_record"]


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_a_key_spans_rest_and_graphql(gql: Gql, kind: str) -> None:
    create = CREATES[kind]
    body = create.body(gql)
    before = counts(gql, create.table)

    # Made through REST, replayed through GraphQL.
    rest = gql.call("POST", create.path, create.role, json=body, key="shared-1")
    assert rest.status_code == 201, rest.text
    replayed = create.made(gql, body, key="shared-1")
    assert (replayed["id"], replayed["version"]) == (rest.json()["id"], rest.json()["version"])
    assert counts(gql, create.table)[create.table] == before[create.table] + 1

    # Made through GraphQL, replayed through REST: the answer REST gives for its own create.
    made = create.made(gql, body, key="shared-2")
    again = gql.call("POST", create.path, create.role, json=body, key="shared-2")
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"{create.path}/{made['id']}"
    assert set(again.json()) == set(rest.json())  # REST's body, not GraphQL's selection
    assert (again.json()["id"], again.json()["version"]) == (made["id"], made["version"])
    assert counts(gql, create.table)[create.table] == before[create.table] + 2

    # A key REST used is refused to GraphQL for another input.
    error = create.call(gql, create.other(body), key="shared-1")
    assert (error["__typename"], error["type"]) == ("MutationError", "idempotency-key-reused")
    assert counts(gql, create.table)[create.table] == before[create.table] + 2


@pytest.mark.parametrize("key", ["", "k" * 201, "tab\there"])
def test_a_bad_key_is_refused_like_rest(gql: Gql, key: str) -> None:
    create = CREATES["solution"]
    body = create.body(gql)
    before = counts(gql, create.table)
    error = create.call(gql, body, key=key)
    assert (error["__typename"], error["code"]) == ("MutationError", "VALIDATION_ERROR")
    assert error["message"] == "idempotencyKey must be 1 to 200 printable characters."
    response = gql.call("POST", create.path, create.role, json=body, key=key)
    assert response.status_code == 422, response.text
    assert error["type"] == response.json()["type"].rsplit("/", 1)[-1]
    assert counts(gql, create.table) == before


def test_a_refused_create_stores_no_key_and_may_be_retried_with_it(gql: Gql) -> None:
    create = CREATES["solution"]
    body = create.body(gql)
    before = counts(gql, create.table)
    error = create.call(gql, {**body, "countries": ["XX"]}, key="retry")
    assert error["code"] == "VALIDATION_ERROR"
    error = create.call(gql, {**body, "vendor_id": gql.world.vendor["b"]}, key="retry")  # refused by the service
    assert error["code"] == "FORBIDDEN"
    assert counts(gql, create.table) == before
    fixed = create.made(gql, body, key="retry")
    assert create.made(gql, body, key="retry") == fixed
    assert counts(gql, create.table)[create.table] == before[create.table] + 1


def test_keys_are_per_caller(gql: Gql) -> None:
    create = CREATES["solution"]
    body = create.body(gql)
    mine = create.made(gql, body, key="mine")
    theirs = gql.mutate(create.query(), ADMIN, input=camel_input(body), key="mine")
    assert theirs["__typename"] == "Solution", theirs
    assert theirs["id"] != mine["id"]


def test_a_match_run_and_a_comment_replay(gql: Gql) -> None:
    city = gql.world.city["a"]
    save = f"""mutation S($city: Int!, $input: MatchRunInput!, $key: String) {{
      saveMatchRun(cityId: $city, input: $input, idempotencyKey: $key) {{
        __typename ... on MatchRun {{ id kind ranking }} {ERROR_FIELDS}
      }}
    }}"""
    runs = gql.scalar("SELECT count(*) FROM match_run")
    run = gql.mutate(save, CITY, city=city, input={"kind": "twins", "limit": 3}, key="run-1")
    assert run["__typename"] == "MatchRun", run
    assert gql.mutate(save, CITY, city=city, input={"kind": "twins", "limit": 3}, key="run-1") == run
    assert gql.scalar("SELECT count(*) FROM match_run") == runs + 1
    refused = gql.mutate(save, CITY, city=city, input={"kind": "twins", "limit": 4}, key="run-1")
    assert (refused["__typename"], refused["type"]) == ("MutationError", "idempotency-key-reused")

    challenge = CREATES["challenge"].made(gql, CREATES["challenge"].body(gql))
    comment = f"""mutation C($id: Int!, $body: String!, $key: String) {{
      commentOnChallenge(challengeId: $id, body: $body, idempotencyKey: $key) {{
        __typename ... on Comment {{ id body }} {ERROR_FIELDS}
      }}
    }}"""
    comments = gql.scalar("SELECT count(*) FROM comment")
    first = gql.mutate(comment, CITY, id=challenge["id"], body="Harbour data first.", key="c-1")
    assert first["__typename"] == "Comment", first
    assert gql.mutate(comment, CITY, id=challenge["id"], body="Harbour data first.", key="c-1") == first
    assert gql.scalar("SELECT count(*) FROM comment") == comments + 1
