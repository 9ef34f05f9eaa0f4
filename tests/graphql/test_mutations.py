"""GraphQL mutations do what the REST writes do, through the same services, with the same refusals.

Over the identity suite's world (a user per role, members of their own "a" city, vendor and hub; "b" is someone
else's), a fresh copy per test, with real access tokens minted as the token endpoint records them. Each story
runs through GraphQL and is checked through REST (the same object as a REST GET shows); each refusal carries
REST's meaning as a code (anonymous: UNAUTHENTICATED, another vendor's draft: NOT_FOUND, an illegal move:
CONFLICT with allowedActions, a stale version: PRECONDITION_FAILED, a bad value: VALIDATION_ERROR naming it),
and leaves the database as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from graphql import OperationType
from sqlalchemy.engine import Engine
from sqlmodel import select

from app.auth.principal import ROLE_SCOPES
from app.auth.tokens import issue_access_token
from app.core.config import Settings
from app.core.db import unit_of_work
from app.graphql.analysis import OperationAnalysis
from app.graphql.schema import build_schema
from app.identity.models import OAuthClient, OAuthToken, Role, User
from app.identity.seed import DEMO_CLIENT_ID, seed_demo_accounts
from app.main import create_app
from tests.api.writes_catalogue.conftest import COMPLETE, Api
from tests.conftest import DatabaseFactory, TestDatabase
from tests.graphql.test_client_schema import operation_of, readme_queries, variables_for
from tests.identity.conftest import BASE_URL, World, auth_state, bearer, mint_user_token
from tests.identity.graphql_face import camel_input
from tests.identity.matrix import MUTATION_OF
from tests.identity.test_permission_matrix import write_routes

VENDOR = Role.vendor_member
ADMIN = Role.admin
CURATOR = Role.hub_curator
CITY = Role.city_official
COORDINATOR = Role.programme_coordinator

# Every table a refused mutation could have touched: equal snapshots before and after mean nothing was written.
WRITTEN_TABLES = (
    "solution",
    "solution_category",
    "solution_country",
    "solution_kpi_impact",
    "hub_catalogue_entry",
    "kpi_observation",
    "kpi_benchmark",
    "twinning",
    "challenge",
    "proposal",
    "comment",
    "vendor",
    "city",
    "audit_event",
)

SOLUTION_FIELDS = "id status version title summary vendorId categories countries sdgs"
ERROR_FIELDS = (
    "... on MutationError { code message type fieldErrors { field message type } currentStatus allowedActions "
    "currentVersion }"
)


@dataclass
class Gql(Api):
    """The REST helper of the catalogue write tests, plus GraphQL."""

    def post(self, query: str, role: Role | None = None, **variables: Any) -> dict[str, Any]:
        headers = bearer(self.token(role)) if role is not None else {}
        response = self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def mutate(self, query: str, role: Role | None = None, **variables: Any) -> dict[str, Any]:
        """The one field a mutation answers (its result union), with no GraphQL error."""
        body = self.post(query, role, **variables)
        assert "errors" not in body, body["errors"]
        (result,) = body["data"].values()
        assert isinstance(result, dict)
        return result

    def refused(self, query: str, role: Role | None, code: str, **variables: Any) -> dict[str, Any]:
        """A mutation answered with a MutationError of this code."""
        result = self.mutate(query, role, **variables)
        assert result["__typename"] == "MutationError", result
        assert result["code"] == code, result
        return result

    def snapshot(self) -> dict[str, list[str]]:
        out = {}
        with self.engine.connect() as connection:
            for table in WRITTEN_TABLES:
                rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).mappings().all()
                out[table] = sorted(json.dumps(dict(r), default=str, sort_keys=True) for r in rows)
        return out

    def rest_solution(self, solution_id: int) -> dict[str, Any]:
        response = self.get(f"/api/v1/solutions/{solution_id}", ADMIN)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="session")
def mutations_template(world_template: tuple[TestDatabase, World]) -> tuple[TestDatabase, World]:
    """The shared world template (tests/conftest.py `world_template`): tests copy it, none writes to it."""
    return world_template


@pytest.fixture
def gql(databases: DatabaseFactory, mutations_template: tuple[TestDatabase, World]) -> Iterator[Gql]:
    db = databases.copy(mutations_template[0])
    engine: Engine = db.engine()
    app: FastAPI = create_app(db.settings(), engine=engine)
    with TestClient(app, base_url=BASE_URL) as client:
        yield Gql(client, engine, mutations_template[1], app)
    engine.dispose()


def op(signature: str, call: str, fields: str) -> str:
    """`mutation <signature> { <call> { <fields> } }`"""
    return f"mutation {signature} {{ {call} {{ {fields} }} }}"


def same_as_rest(graphql: dict[str, Any], rest: dict[str, Any]) -> None:
    """Every field GraphQL selected equals REST's (snake_case key) value."""
    for key, value in graphql.items():
        if key == "__typename":
            continue
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
        assert rest[snake] == value, (key, value, rest[snake])


# ================================================================================================ solutions

CREATE = f"""
mutation Create($input: SolutionCreateInput!) {{
  createSolution(input: $input) {{ __typename ... on Solution {{ {SOLUTION_FIELDS} }} {ERROR_FIELDS} }}
}}"""
UPDATE = f"""
mutation Update($id: Int!, $v: Int!, $input: SolutionUpdateInput!) {{
  updateSolution(id: $id, expectedVersion: $v, input: $input) {{
    __typename ... on Solution {{ {SOLUTION_FIELDS} }} {ERROR_FIELDS}
  }}
}}"""


def move(action: str) -> str:
    return f"""
mutation Move($id: Int!, $v: Int!, $note: String! = "") {{
  {action}(id: $id, expectedVersion: $v, note: $note) {{
    __typename ... on Solution {{ {SOLUTION_FIELDS} }} {ERROR_FIELDS}
  }}
}}"""


def complete_input(gql: Gql, **overrides: Any) -> dict[str, Any]:
    return camel_input({**COMPLETE, "vendor_id": gql.world.vendor["a"], **overrides})


def test_create_solution_is_the_draft_rest_shows(gql: Gql) -> None:
    created = gql.mutate(CREATE, VENDOR, input=complete_input(gql))
    assert created["__typename"] == "Solution"
    assert created["status"] == "draft"
    assert created["version"] == 1
    same_as_rest(created, gql.rest_solution(created["id"]))
    rest = gql.rest_solution(created["id"])
    assert [i["kpi"]["slug"] for i in rest["kpi_impacts"]] == ["EC-I-WS-3C", "EN-EN-AQ-1C"]
    assert [e["action"] for e in gql.audit("solution", created["id"])] == ["solution.create"]


# Each REST status means one code: a refusal through GraphQL must mean what REST says for the same call.
CODE_OF_STATUS = {
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    422: "VALIDATION_ERROR",
    428: "PRECONDITION_REQUIRED",
}


def refused_like_rest(
    gql: Gql,
    query: str,
    role: Role | None,
    variables: dict[str, Any],
    rest: tuple[str, str, Any],
    rest_if_match: str | None = None,
) -> dict[str, Any]:
    """The mutation is refused, with the code of REST's status for the same call, and nothing was written
    (by either face)."""
    before = gql.snapshot()
    method, path, body = rest
    response = gql.call(method, path, role, json=body, if_match=rest_if_match)
    assert response.status_code in CODE_OF_STATUS, response.text
    error = gql.refused(query, role, CODE_OF_STATUS[response.status_code], **variables)
    assert error["type"] == response.json()["type"].rsplit("/", 1)[-1], (error, response.json())
    assert gql.snapshot() == before
    return error


def test_the_vendor_story_through_graphql_ends_in_the_hub_catalogue(gql: Gql) -> None:
    hub = gql.world.hub["a"]
    draft = gql.mutate(CREATE, VENDOR, input=complete_input(gql))
    sid = draft["id"]

    submitted = gql.mutate(move("submitSolution"), VENDOR, id=sid, v=draft["version"])
    assert submitted["status"] == "submitted"
    assert submitted["version"] == draft["version"] + 1
    back = gql.mutate(move("requestSolutionChanges"), ADMIN, id=sid, v=submitted["version"], note="Say which meters.")
    assert back["status"] == "changes_requested"
    edited = gql.mutate(UPDATE, VENDOR, id=sid, v=back["version"], input={"description": "Hourly district meters."})
    assert edited["status"] == "changes_requested"
    resubmitted = gql.mutate(move("submitSolution"), VENDOR, id=sid, v=edited["version"])
    published = gql.mutate(move("publishSolution"), ADMIN, id=sid, v=resubmitted["version"])
    assert published["status"] == "published"
    same_as_rest(published, gql.rest_solution(sid))
    assert gql.rest_solution(sid)["description"] == "Hourly district meters."
    assert gql.get(f"/api/v1/solutions/{sid}").status_code == 200  # public now

    feature = """
    mutation Feature($hub: Int!, $sid: Int!, $note: String!) {
      curateHubCatalogue(hubId: $hub, solutionId: $sid, status: featured, note: $note) {
        __typename
        ... on CatalogueDecision { id status note version decidedByUserId solution { id title } }
        ... on MutationError { code message }
      }
    }"""
    decision = gql.mutate(feature, CURATOR, hub=hub, sid=sid, note="Verified in a coastal town.")
    assert decision["__typename"] == "CatalogueDecision"
    assert decision["status"] == "featured"
    assert decision["solution"] == {"id": sid, "title": COMPLETE["title"]}
    assert decision["decidedByUserId"] == gql.world.actors[CURATOR].user_id
    rest = gql.get(f"/api/v1/hubs/{hub}/catalogue/{sid}", CURATOR)
    assert rest.status_code == 200
    assert rest.headers["ETag"] == f'"hub_catalogue_entry-{decision["id"]}-v{decision["version"]}"'
    same_as_rest({k: v for k, v in decision.items() if k != "solution"}, rest.json())

    catalogue = gql.post(
        """query Catalogue($hub: Int!) {
             hub(id: $hub) { catalogue(first: 10) { edges { node { status note solution { id title } } } } }
           }""",
        None,
        hub=hub,
    )["data"]["hub"]["catalogue"]["edges"]
    assert [e["node"] for e in catalogue] == [
        {
            "status": "featured",
            "note": "Verified in a coastal town.",
            "solution": {"id": sid, "title": COMPLETE["title"]},
        }
    ]
    actions = [e["action"] for e in gql.audit("solution", sid)]
    assert actions == [
        "solution.create",
        "solution.submit",
        "solution.request_changes",
        "solution.update",
        "solution.submit",
        "solution.publish",
    ]


def test_an_update_changes_only_the_fields_given(gql: Gql) -> None:
    draft = gql.mutate(CREATE, VENDOR, input=complete_input(gql))
    before = gql.rest_solution(draft["id"])
    updated = gql.mutate(UPDATE, VENDOR, id=draft["id"], v=1, input={"title": "Leak finder 2", "sdgs": [6]})
    assert updated["version"] == 2
    after = gql.rest_solution(draft["id"])
    assert after["title"] == "Leak finder 2"
    assert after["sdgs"] == [6]
    unchanged = {k for k in before if k not in {"title", "sdgs", "version", "updated_at"}}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    same_as_rest(updated, after)
    # An omitted field is left alone; a field given as null is refused, as in a PATCH body.
    error = gql.refused(UPDATE, VENDOR, "VALIDATION_ERROR", id=draft["id"], v=2, input={"summary": None})
    assert "summary may be omitted but not null" in error["message"]


def test_solution_refusals_mean_what_rest_says(gql: Gql) -> None:
    own = gql.create()  # vendor "a"'s draft, through REST
    other = gql.create(ADMIN, vendor_id=gql.world.vendor["b"])  # vendor "b"'s draft
    sid, oid = own["id"], other["id"]
    tag = gql.etag(f"/api/v1/solutions/{sid}")

    # Anonymous: no token.
    refused_like_rest(gql, CREATE, None, {"input": complete_input(gql)}, ("POST", "/api/v1/solutions", COMPLETE))
    # Another vendor's draft: invisible, so NOT_FOUND (not FORBIDDEN), as in REST.
    refused_like_rest(
        gql,
        move("submitSolution"),
        VENDOR,
        {"id": oid, "v": 1},
        ("POST", f"/api/v1/solutions/{oid}/submit", None),
        gql.etag(f"/api/v1/solutions/{oid}"),
    )
    # Creating a listing for another vendor: FORBIDDEN.
    body = {**COMPLETE, "vendor_id": gql.world.vendor["b"]}
    refused_like_rest(
        gql,
        CREATE,
        VENDOR,
        {"input": complete_input(gql, vendor_id=gql.world.vendor["b"])},
        ("POST", "/api/v1/solutions", body),
    )
    # A vendor may not publish its own listing: review is the platform's.
    refused_like_rest(
        gql,
        move("publishSolution"),
        VENDOR,
        {"id": sid, "v": 1},
        ("POST", f"/api/v1/solutions/{sid}/publish", None),
        tag,
    )
    # An illegal move: CONFLICT, with the status and the caller's possible moves (the same as REST's).
    error = refused_like_rest(
        gql,
        move("publishSolution"),
        ADMIN,
        {"id": sid, "v": 1},
        ("POST", f"/api/v1/solutions/{sid}/publish", None),
        tag,
    )
    rest = gql.call("POST", f"/api/v1/solutions/{sid}/publish", ADMIN, if_match=tag).json()
    assert error["currentStatus"] == rest["current_status"] == "draft"
    assert error["allowedActions"] == rest["allowed_actions"] == ["submit", "archive"]
    # A stale version: PRECONDITION_FAILED, with the version now.
    gql.moved(sid, "submit")  # version 2
    error = refused_like_rest(
        gql,
        move("withdrawSolution"),
        VENDOR,
        {"id": sid, "v": 1},
        ("POST", f"/api/v1/solutions/{sid}/withdraw", None),
        tag,
    )
    assert error["currentVersion"] == 2
    # A bad value: VALIDATION_ERROR naming the field, in GraphQL's names where REST uses the body's.
    impacts = [{"kpi": "EC-I-WS-3C", "expected_effect": 1.5}]
    error = refused_like_rest(
        gql,
        CREATE,
        VENDOR,
        {"input": complete_input(gql, kpi_impacts=impacts)},
        ("POST", "/api/v1/solutions", {**COMPLETE, "vendor_id": gql.world.vendor["a"], "kpi_impacts": impacts}),
    )
    assert [f["field"] for f in error["fieldErrors"]] == ["input.kpiImpacts.0.expectedEffect"]
    assert error["fieldErrors"][0]["type"] == "less_than_equal"
    # A rule of the service (an unknown KPI): the service's field, in GraphQL's names.
    impacts = [{"kpi": "NO-SUCH-KPI", "expected_effect": 0.5}]
    error = gql.refused(CREATE, VENDOR, "VALIDATION_ERROR", input=complete_input(gql, kpi_impacts=impacts))
    assert [f["field"] for f in error["fieldErrors"]] == ["input.kpiImpacts.0.kpi"]
    # A note is required to send a listing back.
    error = refused_like_rest(
        gql,
        move("requestSolutionChanges"),
        ADMIN,
        {"id": sid, "v": 2},
        ("POST", f"/api/v1/solutions/{sid}/request-changes", None),
        gql.etag(f"/api/v1/solutions/{sid}"),
    )
    assert [f["field"] for f in error["fieldErrors"]] == ["note"]
    # An incomplete listing cannot be submitted: what it lacks is named.
    bare = gql.mutate(
        CREATE,
        VENDOR,
        input={"vendorId": gql.world.vendor["a"], "title": "Bare", "maturity": "pilot", "priceModel": "free"},
    )
    error = gql.refused(move("submitSolution"), VENDOR, "VALIDATION_ERROR", id=bare["id"], v=1)
    assert error["type"] == "listing-incomplete"
    assert {f["field"] for f in error["fieldErrors"]} == {"summary", "categories", "countries", "kpiImpacts"}


def test_fields_the_server_owns_are_not_in_the_input(gql: Gql) -> None:
    """status, version, verified...: GraphQL refuses an unknown input field before anything runs."""
    before = gql.snapshot()
    body = gql.post(CREATE, VENDOR, input={**complete_input(gql), "status": "published"})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "status" in body["errors"][0]["message"]
    assert gql.snapshot() == before


def test_a_token_without_the_scope_is_forbidden(gql: Gql) -> None:
    gql.tokens[VENDOR] = mint_user_token(gql.app, gql.engine, gql.world, VENDOR, frozenset({"private:read"}))
    error = refused_like_rest(
        gql,
        CREATE,
        VENDOR,
        {"input": complete_input(gql)},
        ("POST", "/api/v1/solutions", {**COMPLETE, "vendor_id": gql.world.vendor["a"]}),
    )
    assert error["type"] == "insufficient-scope"


def test_delete_a_draft_and_archive_restore(gql: Gql) -> None:
    draft = gql.create()
    delete = """mutation Del($id: Int!, $v: Int!) {
      deleteSolution(id: $id, expectedVersion: $v) {
        __typename ... on Deleted { id } ... on MutationError { code currentStatus }
      }
    }"""
    assert gql.mutate(delete, VENDOR, id=draft["id"], v=1) == {"__typename": "Deleted", "id": draft["id"]}
    assert gql.get(f"/api/v1/solutions/{draft['id']}", ADMIN).status_code == 404
    kept = gql.published()
    archived = gql.mutate(move("archiveSolution"), VENDOR, id=kept["id"], v=kept["version"])
    assert archived["status"] == "archived"
    restored = gql.mutate(move("restoreSolution"), VENDOR, id=kept["id"], v=archived["version"])
    assert restored["status"] == "draft"
    same_as_rest(restored, gql.rest_solution(kept["id"]))
    error = gql.refused(delete, VENDOR, "CONFLICT", id=kept["id"], v=restored["version"])
    assert error["currentStatus"] == "draft"
    reject = gql.create()
    gql.moved(reject, "submit")
    rejected = gql.mutate(move("rejectSolution"), ADMIN, id=reject["id"], v=2, note="Not a smart-city product.")
    assert rejected["status"] == "rejected"


# ================================================================================================ hub curation

CURATE = (
    """
mutation Curate($hub: Int!, $sid: Int!, $status: CatalogueStatus!, $v: Int) {
  curateHubCatalogue(hubId: $hub, solutionId: $sid, status: $status, expectedVersion: $v) {
    __typename ... on CatalogueDecision { id status version } """
    + ERROR_FIELDS
    + """
  }
}"""
)
REMOVE = (
    """
mutation Remove($hub: Int!, $sid: Int!, $v: Int!) {
  removeFromHubCatalogue(hubId: $hub, solutionId: $sid, expectedVersion: $v) {
    __typename ... on Deleted { id } """
    + ERROR_FIELDS
    + """
  }
}"""
)


def test_curation_replaces_a_decision_with_its_version_and_removes_it(gql: Gql) -> None:
    hub, listing = gql.world.hub["a"], gql.published()
    sid = listing["id"]
    first = gql.mutate(CURATE, CURATOR, hub=hub, sid=sid, status="approved")
    assert first["status"] == "approved"
    path = f"/api/v1/hubs/{hub}/catalogue/{sid}"
    # Replacing needs the version (REST: If-Match, 428 without it), and a current one (412).
    refused_like_rest(
        gql, CURATE, CURATOR, {"hub": hub, "sid": sid, "status": "hidden"}, ("PUT", path, {"status": "hidden"})
    )
    stale = f'"hub_catalogue_entry-{first["id"]}-v0"'
    error = refused_like_rest(
        gql,
        CURATE,
        CURATOR,
        {"hub": hub, "sid": sid, "status": "hidden", "v": 0},
        ("PUT", path, {"status": "hidden"}),
        stale,
    )
    assert error["currentVersion"] == first["version"]
    hidden = gql.mutate(CURATE, CURATOR, hub=hub, sid=sid, status="hidden", v=first["version"])
    assert hidden["status"] == "hidden"
    assert hidden["version"] == first["version"] + 1
    read = gql.post(
        "query D($hub: Int!, $sid: Int!) { catalogueDecision(hubId: $hub, solutionId: $sid) { status version } }",
        CURATOR,
        hub=hub,
        sid=sid,
    )["data"]["catalogueDecision"]
    assert read == {"status": "hidden", "version": hidden["version"]}
    # Another hub's curator, and a listing that is not published.
    other_hub = gql.world.hub["b"]
    refused_like_rest(
        gql,
        CURATE,
        CURATOR,
        {"hub": other_hub, "sid": sid, "status": "approved"},
        ("PUT", f"/api/v1/hubs/{other_hub}/catalogue/{sid}", {"status": "approved"}),
    )
    draft = gql.create()
    refused_like_rest(
        gql,
        CURATE,
        CURATOR,
        {"hub": hub, "sid": draft["id"], "status": "approved"},
        ("PUT", f"/api/v1/hubs/{hub}/catalogue/{draft['id']}", {"status": "approved"}),
    )
    removed = gql.mutate(REMOVE, CURATOR, hub=hub, sid=sid, v=hidden["version"])
    assert removed == {"__typename": "Deleted", "id": first["id"]}
    assert gql.get(path, CURATOR).status_code == 404
    assert [e["action"] for e in gql.audit("hub_catalogue_entry", first["id"])] == [
        "hub_catalogue_entry.create",
        "hub_catalogue_entry.update",
        "hub_catalogue_entry.delete",
    ]


# ================================================================================================ KPI values

UPSERT = (
    """
mutation Upsert($city: Int!, $values: [KpiValueInput!]!) {
  upsertKpiValues(cityId: $city, values: $values) {
    __typename ... on KpiValuesWrite { rows created updated unchanged } """
    + ERROR_FIELDS
    + """
  }
}"""
)
ROW = {"kpi": "EC-I-WS-3C", "year": 2023, "value": 21.5, "dataQuality": "measured", "source": "Utility report"}


def rest_values(gql: Gql, city: int, year: int) -> list[dict[str, Any]]:
    response = gql.get(f"/api/v1/cities/{city}/kpi-values", ADMIN, kpi="EC-I-WS-3C", year=year)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_kpi_values_upsert_import_and_verify(gql: Gql) -> None:
    city = gql.world.city["a"]
    written = gql.mutate(UPSERT, CITY, city=city, values=[ROW])
    assert written == {"__typename": "KpiValuesWrite", "rows": 1, "created": 1, "updated": 0, "unchanged": 0}
    (stored,) = rest_values(gql, city, 2023)
    assert (stored["value"], stored["data_quality"], stored["source"], stored["verified"]) == (
        21.5,
        "measured",
        "Utility report",
        False,
    )
    again = gql.mutate(UPSERT, CITY, city=city, values=[{**ROW, "value": 20.0, "note": "corrected"}])
    assert (again["created"], again["updated"]) == (0, 1)
    assert rest_values(gql, city, 2023)[0]["value"] == 20.0
    assert rest_values(gql, city, 2023)[0]["note"] == "corrected"

    csv = "kpi,data_point,year,value,data_quality,source\r\nEC-I-WS-3C,,2022,25,estimated,Utility report\r\n"
    imported = gql.mutate(
        """mutation Import($city: Int!, $csv: String!) {
             importKpiValues(cityId: $city, csv: $csv) { __typename ... on KpiValuesWrite { created } }
           }""",
        CITY,
        city=city,
        csv=csv,
    )
    assert imported == {"__typename": "KpiValuesWrite", "created": 1}
    assert rest_values(gql, city, 2022)[0]["value"] == 25

    verify = (
        """mutation Verify($city: Int!, $values: [KpiValueKeyInput!]!) {
      verifyKpiValues(cityId: $city, values: $values) {
        __typename ... on KpiValuesVerify { rows changed } """
        + ERROR_FIELDS
        + """
      }
    }"""
    )
    keys = [{"kpi": "EC-I-WS-3C", "year": 2022}]
    refused_like_rest(
        gql,
        verify,
        CITY,
        {"city": city, "values": keys},
        ("POST", f"/api/v1/cities/{city}/kpi-values/verify", {"values": [{"kpi": "EC-I-WS-3C", "year": 2022}]}),
    )
    assert gql.mutate(verify, ADMIN, city=city, values=keys) == {
        "__typename": "KpiValuesVerify",
        "rows": 1,
        "changed": 1,
    }
    assert rest_values(gql, city, 2022)[0]["verified"] is True
    assert [e["action"] for e in gql.audit("city", city)] == [
        "kpi_values.upsert",
        "kpi_values.upsert",
        "kpi_values.import",
        "kpi_values.verify",
    ]


def test_kpi_values_refusals(gql: Gql) -> None:
    city, other = gql.world.city["a"], gql.world.city["b"]
    rest_row = {"kpi": "EC-I-WS-3C", "year": 2023, "value": 21.5, "data_quality": "measured", "source": "x"}
    # Another city's values: FORBIDDEN (the city is public, so not NOT_FOUND), as in REST.
    refused_like_rest(
        gql,
        UPSERT,
        CITY,
        {"city": other, "values": [ROW]},
        ("PUT", f"/api/v1/cities/{other}/kpi-values", {"values": [rest_row]}),
    )
    refused_like_rest(
        gql,
        UPSERT,
        None,
        {"city": city, "values": [ROW]},
        ("PUT", f"/api/v1/cities/{city}/kpi-values", {"values": [rest_row]}),
    )
    # Every bad row named, and nothing written (the good row neither).
    bad = [ROW, {**ROW, "year": 2999}, {**ROW, "kpi": "NOPE", "year": 2020}]
    rest_bad = [rest_row, {**rest_row, "year": 2999}, {**rest_row, "kpi": "NOPE", "year": 2020}]
    error = refused_like_rest(
        gql,
        UPSERT,
        CITY,
        {"city": city, "values": bad},
        ("PUT", f"/api/v1/cities/{city}/kpi-values", {"values": rest_bad}),
    )
    assert error["type"] == "invalid-rows"
    assert [f["field"] for f in error["fieldErrors"]] == ["values.1.year", "values.2.kpi"]
    error = gql.refused(UPSERT, CITY, "VALIDATION_ERROR", city=city, values=[])
    assert [f["field"] for f in error["fieldErrors"]] == ["values"]
    # A CSV import names the bad lines (the header is line 1).
    csv = "kpi,year,value,data_quality,source\nEC-I-WS-3C,2022,25,estimated,x\nEC-I-WS-3C,2999,25,estimated,x\n"
    before = gql.snapshot()
    error = gql.refused(
        """mutation I($city: Int!, $csv: String!) {
             importKpiValues(cityId: $city, csv: $csv) {
               __typename ... on MutationError { code fieldErrors { field } }
             }
           }""",
        CITY,
        "VALIDATION_ERROR",
        city=city,
        csv=csv,
    )
    assert error["fieldErrors"] == [{"field": "csv.3.year"}]
    assert gql.snapshot() == before


def test_the_readme_mutation_runs_for_the_demo_official(db: TestDatabase, engine: Engine) -> None:
    """The README's mutation, as a client sends it, with the token of the demo city official."""
    query = next(q for q in readme_queries() if operation_of(q).operation is OperationType.MUTATION)
    app = create_app(db.settings(), engine=engine)
    with TestClient(app) as client:
        with unit_of_work(engine) as session:
            seed_demo_accounts(session, db.settings())
            user = session.exec(select(User).where(User.email == "official@demo.citymarket.example")).one()
            client_row = session.exec(select(OAuthClient).where(OAuthClient.client_id == DEMO_CLIENT_ID)).one()
            scope = " ".join(sorted(ROLE_SCOPES[Role.city_official]))
            issued = issue_access_token(
                auth_state(app).keys.ring(),
                auth_state(app).settings,
                subject=f"user:{user.id}",
                client_id=DEMO_CLIENT_ID,
                scope=scope,
            )
            session.add(
                OAuthToken(
                    client_pk=client_row.id or 0,
                    user_id=user.id,
                    scope=scope,
                    family_id="readme",
                    access_token_jti=issued.jti,
                    access_token_expires_at=issued.expires_at,
                )
            )
        variables = variables_for(client, query)
        # Without the token: refused, and nothing written.
        anonymous = client.post("/graphql", json={"query": query, "variables": variables}).json()
        assert anonymous["data"]["upsertKpiValues"]["code"] == "UNAUTHENTICATED"
        response = client.post("/graphql", json={"query": query, "variables": variables}, headers=bearer(issued.token))
        assert response.status_code == 200, response.text
        result = response.json()["data"]["upsertKpiValues"]
        assert result["__typename"] == "KpiValuesWrite", result
        assert result["rows"] == 1
        assert result["created"] + result["updated"] == 1
        values = client.get(
            f"/api/v1/cities/{variables['cityId']}/kpi-values",
            params={"kpi": "EC-I-WS-3C", "year": 2024},
            headers=bearer(issued.token),
        ).json()["items"]
        assert [(v["value"], v["data_quality"]) for v in values] == [(21.5, "measured")]


def test_an_ordinary_mutation_is_within_the_limits() -> None:
    """The cost and depth rules measure mutations like queries (against the Mutation root)."""
    query = next(q for q in readme_queries() if operation_of(q).operation is OperationType.MUTATION)
    schema = build_schema(Settings())._schema
    measure = OperationAnalysis(schema, {}).measure(operation_of(query))
    # upsertKpiValues, __typename (free), 4 fields of KpiValuesWrite, code, message, fieldErrors { field message }
    assert measure.cost == 1 + 4 + 3 + 2
    assert measure.depth == 2


# ================================================================================================ twinnings

TWINNING_FIELDS = "id status version cityAId cityBId proposedByCityId focusCategories rationale"


def twinning_move(action: str) -> str:
    return f"""
mutation Act($id: Int!, $v: Int!) {{
  {action}(id: $id, expectedVersion: $v) {{ __typename ... on Twinning {{ {TWINNING_FIELDS} }} {ERROR_FIELDS} }}
}}"""


PROPOSE = f"""
mutation Propose($input: TwinningCreateInput!) {{
  proposeTwinning(input: $input) {{
    __typename ... on Twinning {{ {TWINNING_FIELDS} focusKpis {{ slug }} }} {ERROR_FIELDS}
  }}
}}"""


def test_a_twinning_proposed_accepted_run_and_completed(gql: Gql) -> None:
    a, b = gql.world.city["a"], gql.world.city["b"]
    proposed = gql.mutate(
        PROPOSE,
        CITY,
        input={"cityAId": a, "cityBId": b, "focusKpis": ["EC: I: WS: 3C"], "rationale": "Both lose water."},
    )
    assert proposed["status"] == "proposed"
    assert proposed["proposedByCityId"] == a
    assert proposed["focusKpis"] == [{"slug": "EC-I-WS-3C"}]
    rest = gql.get(f"/api/v1/twinnings/{proposed['id']}").json()
    same_as_rest({k: v for k, v in proposed.items() if k != "focusKpis"}, rest)
    tid = proposed["id"]
    # The proposing city may not accept its own proposal; an illegal move names the allowed ones.
    refused_like_rest(
        gql,
        twinning_move("acceptTwinning"),
        CITY,
        {"id": tid, "v": 1},
        ("POST", f"/api/v1/twinnings/{tid}/accept", None),
        f'"twinning-{tid}-v1"',
    )
    error = refused_like_rest(
        gql,
        twinning_move("completeTwinning"),
        CITY,
        {"id": tid, "v": 1},
        ("POST", f"/api/v1/twinnings/{tid}/complete", None),
        f'"twinning-{tid}-v1"',
    )
    assert error["currentStatus"] == "proposed"
    assert error["allowedActions"] == ["accept", "decline", "lapse"]
    accepted = gql.mutate(twinning_move("acceptTwinning"), COORDINATOR, id=tid, v=1)
    assert accepted["status"] == "accepted"
    error = gql.refused(twinning_move("activateTwinning"), CITY, "PRECONDITION_FAILED", id=tid, v=1)
    assert error["currentVersion"] == 2
    active = gql.mutate(twinning_move("activateTwinning"), CITY, id=tid, v=2)
    completed = gql.mutate(twinning_move("completeTwinning"), CITY, id=tid, v=active["version"])
    assert completed["status"] == "completed"
    same_as_rest(completed, gql.get(f"/api/v1/twinnings/{tid}").json())
    # The same pair again: a new proposal is fine now; a second open one is a CONFLICT.
    again = gql.mutate(PROPOSE, COORDINATOR, input={"cityAId": b, "cityBId": a})
    assert again["proposedByCityId"] is None
    refused_like_rest(
        gql,
        PROPOSE,
        COORDINATOR,
        {"input": {"cityAId": a, "cityBId": b}},
        ("POST", "/api/v1/twinnings", {"city_a_id": a, "city_b_id": b}),
    )
    error = gql.refused(PROPOSE, CITY, "VALIDATION_ERROR", input={"cityAId": a, "cityBId": a})
    assert "two different cities" in error["message"]
    lapsed = gql.mutate(twinning_move("lapseTwinning"), COORDINATOR, id=again["id"], v=again["version"])
    assert lapsed["status"] == "lapsed"
    declined = gql.mutate(PROPOSE, COORDINATOR, input={"cityAId": a, "cityBId": b})
    assert gql.mutate(twinning_move("declineTwinning"), CITY, id=declined["id"], v=1)["status"] == "declined"


# ================================================================================================ co-creation

CHALLENGE_FIELDS = "id status version title statement deadline cityId targetKpis { slug }"
PROPOSAL_FIELDS = "id status version text vendorId solutionId challengeId"


def test_a_challenge_from_post_to_award(gql: Gql) -> None:
    city = gql.world.city["a"]
    deadline = (date.today() + timedelta(days=30)).isoformat()
    create = f"""mutation C($input: ChallengeCreateInput!) {{
      createChallenge(input: $input) {{ __typename ... on Challenge {{ {CHALLENGE_FIELDS} }} {ERROR_FIELDS} }}
    }}"""
    challenge = gql.mutate(
        create,
        CITY,
        input={"cityId": city, "title": "Cleaner air", "targetKpis": ["EN-EN-AQ-1C"], "deadline": deadline},
    )
    assert challenge["status"] == "open"
    assert challenge["targetKpis"] == [{"slug": "EN-EN-AQ-1C"}]
    cid = challenge["id"]
    update = f"""mutation U($id: Int!, $v: Int!, $input: ChallengeUpdateInput!) {{
      updateChallenge(id: $id, expectedVersion: $v, input: $input) {{
        __typename ... on Challenge {{ {CHALLENGE_FIELDS} }} {ERROR_FIELDS}
      }}
    }}"""
    edited = gql.mutate(update, CITY, id=cid, v=1, input={"statement": "PM10 near the harbour."})
    assert (edited["title"], edited["statement"], edited["version"]) == ("Cleaner air", "PM10 near the harbour.", 2)
    same_as_rest({k: v for k, v in edited.items() if k != "targetKpis"}, gql.get(f"/api/v1/challenges/{cid}").json())
    refused_like_rest(
        gql,
        update,
        VENDOR,
        {"id": cid, "v": 2, "input": {"title": "Mine"}},
        ("PATCH", f"/api/v1/challenges/{cid}", {"title": "Mine"}),
        f'"challenge-{cid}-v2"',
    )

    listing = gql.published()
    submit = f"""mutation P($cid: Int!, $input: ProposalCreateInput!) {{
      submitProposal(challengeId: $cid, input: $input) {{
        __typename ... on Proposal {{ {PROPOSAL_FIELDS} }} {ERROR_FIELDS}
      }}
    }}"""
    proposal = gql.mutate(submit, VENDOR, cid=cid, input={"solutionId": listing["id"], "text": "Our sensors."})
    assert proposal["status"] == "submitted"
    pid = proposal["id"]
    edit = f"""mutation E($id: Int!, $v: Int!, $text: String!) {{
      updateProposal(id: $id, expectedVersion: $v, text: $text) {{ __typename ... on Proposal {{ {PROPOSAL_FIELDS} }} }}
    }}"""
    assert gql.mutate(edit, VENDOR, id=pid, v=1, text="Our sensors, 40 of them.")["version"] == 2

    def decide(action: str) -> str:
        return f"""mutation D($id: Int!, $v: Int!) {{
          {action}(id: $id, expectedVersion: $v) {{ __typename ... on Proposal {{ {PROPOSAL_FIELDS} }} {ERROR_FIELDS} }}
        }}"""

    refused_like_rest(
        gql,
        decide("shortlistProposal"),
        VENDOR,
        {"id": pid, "v": 2},
        ("POST", f"/api/v1/proposals/{pid}/shortlist", None),
        f'"proposal-{pid}-v2"',
    )
    shortlisted = gql.mutate(decide("shortlistProposal"), CITY, id=pid, v=2)
    assert shortlisted["status"] == "shortlisted"

    comment = """mutation K($pid: Int!, $body: String!) {
      commentOnProposal(proposalId: $pid, body: $body) { __typename ... on Comment { id body authorLabel } }
    }"""
    said = gql.mutate(comment, VENDOR, pid=pid, body="Happy to run a pilot.")
    assert said["body"] == "Happy to run a pilot."
    on_challenge = """mutation K($cid: Int!, $body: String!) {
      commentOnChallenge(challengeId: $cid, body: $body) { __typename ... on Comment { id body } }
    }"""
    question = gql.mutate(on_challenge, VENDOR, cid=cid, body="Which streets?")
    delete = """mutation X($id: Int!) {
      deleteComment(id: $id) { __typename ... on Deleted { id } ... on MutationError { code } }
    }"""
    assert gql.mutate(delete, CITY, id=question["id"]) == {"__typename": "MutationError", "code": "FORBIDDEN"}
    assert gql.mutate(delete, VENDOR, id=question["id"]) == {"__typename": "Deleted", "id": question["id"]}
    comments = gql.get("/api/v1/comments", CITY, challenge=cid).json()["items"]
    assert comments == []

    accepted = gql.mutate(decide("acceptProposal"), CITY, id=pid, v=shortlisted["version"])
    assert accepted["status"] == "accepted"
    assert gql.get(f"/api/v1/challenges/{cid}").json()["status"] == "awarded"
    error = gql.refused(decide("declineProposal"), CITY, "CONFLICT", id=pid, v=accepted["version"])
    assert error["allowedActions"] == []


def test_close_and_award_a_challenge(gql: Gql) -> None:
    city = gql.world.city["a"]
    deadline = (date.today() + timedelta(days=30)).isoformat()
    fields = f"__typename ... on Challenge {{ {CHALLENGE_FIELDS} }} {ERROR_FIELDS}"
    create = f"mutation C($input: ChallengeCreateInput!) {{ createChallenge(input: $input) {{ {fields} }} }}"
    body = {"cityId": city, "title": "Less water loss", "targetKpis": ["EC-I-WS-3C"], "deadline": deadline}
    first = gql.mutate(create, CITY, input=body)
    close = op("X($id: Int!, $v: Int!)", 'closeChallenge(id: $id, expectedVersion: $v, note: "Enough.")', fields)
    closed = gql.mutate(close, CITY, id=first["id"], v=1)
    assert closed["status"] == "closed"
    second = gql.mutate(create, CITY, input=body)
    listing = gql.published()
    submit = """mutation P($cid: Int!, $input: ProposalCreateInput!) {
      submitProposal(challengeId: $cid, input: $input) { ... on Proposal { id } }
    }"""
    pid = gql.mutate(submit, VENDOR, cid=second["id"], input={"solutionId": listing["id"], "text": "Ours."})["id"]
    award = f"""mutation A($id: Int!, $v: Int!, $p: Int!) {{
      awardChallenge(id: $id, expectedVersion: $v, proposalId: $p) {{ {fields} }}
    }}"""
    awarded = gql.mutate(award, CITY, id=second["id"], v=second["version"], p=pid)
    assert awarded["status"] == "awarded"
    assert gql.get(f"/api/v1/proposals/{pid}", CITY).json()["status"] == "accepted"
    past = {**body, "deadline": "2000-01-01"}
    error = refused_like_rest(
        gql,
        create,
        CITY,
        {"input": past},
        (
            "POST",
            "/api/v1/challenges",
            {"city_id": city, "title": "x", "target_kpis": ["EC-I-WS-3C"], "deadline": "2000-01-01"},
        ),
    )
    assert [f["field"] for f in error["fieldErrors"]] == ["input.deadline"]


# ================================================================================================ the rest


def test_cities_vendors_and_editorial_content(gql: Gql) -> None:
    # A city onboarded by an admin, then edited by... the admin (its officials come later).
    create_city = f"""mutation C($input: CityCreateInput!) {{
      createCity(input: $input) {{
        __typename ... on CityDetail {{ id name version population populationYear }} {ERROR_FIELDS}
      }}
    }}"""
    city = gql.mutate(
        create_city, ADMIN, input={"name": "Haugesund", "country": "no", "population": 37000, "populationYear": 2023}
    )
    assert (city["name"], city["version"]) == ("Haugesund", 1)
    refused_like_rest(
        gql,
        create_city,
        CITY,
        {"input": {"name": "Bergen2", "country": "NO"}},
        ("POST", "/api/v1/cities", {"name": "Bergen2", "country": "NO"}),
    )
    update_city = f"""mutation U($id: Int!, $v: Int!, $input: CityUpdateInput!) {{
      updateCity(id: $id, expectedVersion: $v, input: $input) {{
        __typename ... on CityDetail {{ id version population region }} {ERROR_FIELDS}
      }}
    }}"""
    updated = gql.mutate(update_city, ADMIN, id=city["id"], v=1, input={"region": "Rogaland"})
    assert (updated["region"], updated["population"], updated["version"]) == ("Rogaland", 37000, 2)
    same_as_rest(updated, gql.get(f"/api/v1/cities/{city['id']}").json())

    vendor_fields = f"__typename ... on Vendor {{ id name verified version }} {ERROR_FIELDS}"
    create_vendor = f"mutation V($input: VendorCreateInput!) {{ createVendor(input: $input) {{ {vendor_fields} }} }}"
    vendor = gql.mutate(create_vendor, ADMIN, input={"name": "Tidewater AS", "countryCode": "NO", "size": "small"})
    assert (vendor["name"], vendor["verified"]) == ("Tidewater AS", False)
    own = gql.world.vendor["a"]
    update_vendor = f"""mutation U($id: Int!, $v: Int!, $input: VendorUpdateInput!) {{
      updateVendor(id: $id, expectedVersion: $v, input: $input) {{ {vendor_fields} }}
    }}"""
    renamed = gql.mutate(update_vendor, VENDOR, id=own, v=1, input={"description": "Sensors."})
    assert renamed["version"] == 2
    verify = op("W($id: Int!, $v: Int!)", 'verifyVendor(id: $id, expectedVersion: $v, note: "Checked.")', vendor_fields)
    refused_like_rest(
        gql, verify, VENDOR, {"id": own, "v": 2}, ("POST", f"/api/v1/vendors/{own}/verify", None), f'"vendor-{own}-v2"'
    )
    assert gql.mutate(verify, ADMIN, id=own, v=2)["verified"] is True
    same_as_rest(
        gql.mutate(update_vendor, VENDOR, id=own, v=3, input={"website": ""}), gql.get(f"/api/v1/vendors/{own}").json()
    )

    case_fields = f"__typename ... on CaseStudy {{ id title status version }} {ERROR_FIELDS}"
    create_case = f"mutation K($input: CaseStudyCreateInput!) {{ createCaseStudy(input: $input) {{ {case_fields} }} }}"
    case = gql.mutate(create_case, ADMIN, input={"title": "Leaks halved", "year": 2022, "summary": "A pilot."})
    assert case["status"] == "draft"
    refused_like_rest(
        gql, create_case, VENDOR, {"input": {"title": "Mine"}}, ("POST", "/api/v1/case-studies", {"title": "Mine"})
    )
    publish_case = (
        f"mutation P($id: Int!, $v: Int!) {{ publishCaseStudy(id: $id, expectedVersion: $v) {{ {case_fields} }} }}"
    )
    published = gql.mutate(publish_case, ADMIN, id=case["id"], v=1)
    assert published["status"] == "published"
    same_as_rest(published, gql.get(f"/api/v1/case-studies/{case['id']}").json())
    update_case = f"""mutation U($id: Int!, $v: Int!, $input: CaseStudyUpdateInput!) {{
      updateCaseStudy(id: $id, expectedVersion: $v, input: $input) {{ {case_fields} }}
    }}"""
    assert gql.mutate(update_case, ADMIN, id=case["id"], v=2, input={"title": "Leaks halved in Karmoy"})["version"] == 3
    archive_case = (
        f"mutation A($id: Int!, $v: Int!) {{ archiveCaseStudy(id: $id, expectedVersion: $v) {{ {case_fields} }} }}"
    )
    assert gql.mutate(archive_case, ADMIN, id=case["id"], v=3)["status"] == "archived"

    guide_fields = (
        f"__typename ... on ProcurementGuideline {{ id title stage status version kpis {{ slug }} }} {ERROR_FIELDS}"
    )
    create_guide = op("G($input: GuidelineCreateInput!)", "createProcurementGuideline(input: $input)", guide_fields)
    guide = gql.mutate(
        create_guide, ADMIN, input={"title": "Buying sensors", "stage": "tender_design", "kpis": ["EC-I-WS-3C"]}
    )
    assert (guide["status"], guide["kpis"]) == ("draft", [{"slug": "EC-I-WS-3C"}])
    update_guide = f"""mutation U($id: Int!, $v: Int!, $input: GuidelineUpdateInput!) {{
      updateProcurementGuideline(id: $id, expectedVersion: $v, input: $input) {{ {guide_fields} }}
    }}"""
    assert gql.mutate(update_guide, ADMIN, id=guide["id"], v=1, input={"kpis": []})["kpis"] == []
    publish_guide = op(
        "P($id: Int!, $v: Int!)", "publishProcurementGuideline(id: $id, expectedVersion: $v)", guide_fields
    )
    assert gql.mutate(publish_guide, ADMIN, id=guide["id"], v=2)["status"] == "published"
    archive_guide = op(
        "A($id: Int!, $v: Int!)", "archiveProcurementGuideline(id: $id, expectedVersion: $v)", guide_fields
    )
    assert gql.mutate(archive_guide, ADMIN, id=guide["id"], v=3)["status"] == "archived"


def test_save_a_match_run(gql: Gql) -> None:
    city = gql.world.city["a"]
    save = f"""mutation S($city: Int!, $input: MatchRunInput!) {{
      saveMatchRun(cityId: $city, input: $input) {{
        __typename ... on MatchRun {{ id cityId kind results parameters ranking createdByUserId }} {ERROR_FIELDS}
      }}
    }}"""
    run = gql.mutate(save, CITY, city=city, input={"kind": "twins", "limit": 3})
    assert run["__typename"] == "MatchRun", run
    rest = gql.get(f"/api/v1/cities/{city}/match-runs/{run['id']}", CITY).json()
    same_as_rest({k: v for k, v in run.items()}, rest)
    assert run["createdByUserId"] == gql.world.actors[CITY].user_id
    refused_like_rest(
        gql,
        save,
        None,
        {"city": city, "input": {"kind": "twins"}},
        ("POST", f"/api/v1/cities/{city}/match-runs", {"kind": "twins"}),
    )
    error = gql.refused(save, CITY, "VALIDATION_ERROR", city=city, input={"kind": "twins", "scope": "country"})
    assert [f["field"] for f in error["fieldErrors"]] == ["input.scope"]


# ================================================================================================ benchmarks

PM10 = "/api/v1/kpis/EN-EN-AQ-1C/data-points/PM10/benchmark"
BENCHMARK = f"""
mutation Benchmark($kpi: String!, $key: String!, $v: String, $input: BenchmarkInput!) {{
  updateBenchmark(kpi: $kpi, dataPoint: $key, expectedVersion: $v, input: $input) {{
    __typename ... on Benchmark {{ value valueLabel basisType basis source confidence isPlatformDefault version }}
    {ERROR_FIELDS}
  }}
}}"""


def test_an_admin_replaces_a_benchmark_with_the_version_read(gql: Gql) -> None:
    read = gql.get(PM10)
    assert read.status_code == 200, read.text
    seeded = read.json()
    assert seeded["is_platform_default"] is True
    # The version a GraphQL client reads is the one REST's ETag carries.
    assert read.headers["ETag"].endswith(f'-v{seeded["version"]}"')
    kpi = gql.post(
        """query { kpi(slug: "EN-EN-AQ-1C") { dataPoints { key benchmark { version isPlatformDefault } } } }"""
    )["data"]["kpi"]
    (point,) = [dp for dp in kpi["dataPoints"] if dp["key"] == "PM10"]
    assert point["benchmark"] == {"version": seeded["version"], "isPlatformDefault": True}

    body = {"value": 14, "basis_type": "WHO", "basis": "Stricter than the WHO 2021 annual PM10 guideline"}
    variables = {"kpi": "EN-EN-AQ-1C", "key": "PM10", "v": seeded["version"], "input": camel_input(body)}
    rest = ("PUT", PM10, body)
    # Not an admin: FORBIDDEN (the token lacks the scope), anonymous: UNAUTHENTICATED, as in REST.
    for role in (VENDOR, CITY, CURATOR, None):
        refused_like_rest(gql, BENCHMARK, role, variables, rest, rest_if_match=read.headers["ETag"])
    # No such data point: NOT_FOUND; replacing without a version: PRECONDITION_REQUIRED; a bad value named.
    refused_like_rest(
        gql,
        BENCHMARK,
        ADMIN,
        {**variables, "key": "PM1"},
        ("PUT", PM10.replace("PM10", "PM1"), body),
        read.headers["ETag"],
    )
    refused_like_rest(gql, BENCHMARK, ADMIN, {**variables, "v": None}, rest)
    before = gql.snapshot()
    error = gql.refused(
        BENCHMARK, ADMIN, "VALIDATION_ERROR", **{**variables, "input": {**variables["input"], "basis": ""}}
    )
    assert [f["field"] for f in error["fieldErrors"]] == ["input.basis"]
    assert gql.snapshot() == before

    updated = gql.mutate(BENCHMARK, ADMIN, **variables)
    assert updated["__typename"] == "Benchmark"
    assert (updated["value"], updated["basisType"], updated["isPlatformDefault"]) == (14.0, "WHO", False)
    assert updated["version"] != seeded["version"]
    after = gql.get(PM10)
    same_as_rest(updated, after.json())
    assert after.json()["is_platform_default"] is False
    assert after.headers["ETag"].endswith(f'-v{updated["version"]}"')
    assert [e["action"] for e in gql.audit("kpi_benchmark", _data_point_id(gql))] == ["kpi_benchmark.update"]

    # The version read before the change is stale now, in both faces.
    stale = refused_like_rest(
        gql,
        BENCHMARK,
        ADMIN,
        {**variables, "input": {**variables["input"], "value": 10}},
        ("PUT", PM10, {**body, "value": 10}),
        rest_if_match=read.headers["ETag"],
    )
    assert stale["currentVersion"] is None  # too large for an Int: the client reads `version` again
    error = gql.refused(BENCHMARK, ADMIN, "PRECONDITION_FAILED", **{**variables, "v": "not-a-version"})
    assert "not a version" in error["message"]
    assert gql.get(PM10).json() == after.json()


def _data_point_id(gql: Gql) -> int:
    value = gql.scalar(
        "SELECT dp.id FROM kpi_data_point dp JOIN kpi k ON k.id = dp.kpi_id WHERE k.slug = :s AND dp.key = :k",
        s="EN-EN-AQ-1C",
        k="PM10",
    )
    assert isinstance(value, int)
    return value


# ================================================================================================ coverage

# Every REST write and its mutation: MUTATION_OF (tests/identity/matrix.py, beside the permission matrix's rows,
# which it runs through GraphQL too). A new REST write fails the test until it is listed there.


def test_every_rest_write_has_its_mutation(gql: Gql) -> None:
    routes = write_routes(gql.app)
    assert routes - set(MUTATION_OF) == set(), "a REST write without an entry in MUTATION_OF"
    assert set(MUTATION_OF) - routes == set(), "MUTATION_OF lists a REST write that is gone"
    mutation = build_schema(Settings())._schema.mutation_type
    assert mutation is not None
    named = {name for name in MUTATION_OF.values() if name is not None}
    assert named <= set(mutation.fields)
    assert set(mutation.fields) == named  # and no mutation that REST lacks
