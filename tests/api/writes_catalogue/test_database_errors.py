"""Errors of the database reach clients as REST's generic answers on GraphQL too (issue 12): outside
production GraphQL showed the driver's message (SQL, values, hosts); while the database is down it answered
200 with an error instead of REST's 503 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.core.errors import DATABASE_UNAVAILABLE, UNEXPECTED_ERROR
from app.main import create_app
from tests.api.writes_catalogue.conftest import ADMIN, Api
from tests.conftest import TestDatabase

SECRET = "secret-driver-detail"
CREATE = (
    "mutation($input: GuidelineCreateInput!) { createProcurementGuideline(input: $input) "
    "{ __typename ... on MutationError { code message } } }"
)


@pytest.fixture
def refusing_inserts(wengine: Engine) -> Iterator[None]:
    """A trigger that makes the database itself refuse new guidelines, with a message of its own."""
    with wengine.begin() as connection:
        if wengine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_guidelines BEFORE INSERT ON procurement_guideline "
                f"BEGIN SELECT RAISE(ABORT, '{SECRET}'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_guidelines() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{SECRET}'; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_guidelines BEFORE INSERT ON procurement_guideline "
                "FOR EACH ROW EXECUTE FUNCTION refuse_guidelines()"
            )
    yield
    with wengine.begin() as connection:  # a PostgreSQL copy is reset and reused: leave nothing behind
        connection.exec_driver_sql(
            "DROP TRIGGER refuse_guidelines" + ("" if wengine.dialect.name == "sqlite" else " ON procurement_guideline")
        )
        if wengine.dialect.name != "sqlite":
            connection.exec_driver_sql("DROP FUNCTION refuse_guidelines()")


def test_a_database_error_is_generic_on_both_faces_outside_production(api: Api, refusing_inserts: None) -> None:
    client = TestClient(api.app, raise_server_exceptions=False)
    headers = api.headers(ADMIN)
    rest = client.post("/api/v1/procurement-guidelines", json={"title": "T", "stage": "evaluation"}, headers=headers)
    assert rest.status_code == 500
    assert rest.json()["detail"] == UNEXPECTED_ERROR
    variables = {"input": {"title": "T", "stage": "evaluation"}}
    graphql = client.post("/graphql", json={"query": CREATE, "variables": variables}, headers=headers)
    assert graphql.status_code == 200, graphql.text
    (error,) = graphql.json()["errors"]
    assert error["message"] == UNEXPECTED_ERROR
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    for answer in (rest, graphql):
        assert SECRET not in answer.text
        assert "INSERT" not in answer.text
    assert api.scalar("SELECT count(*) FROM procurement_guideline WHERE title = 'T'") == 0


def test_graphql_answers_503_with_retry_after_while_the_database_is_down(wdb: TestDatabase) -> None:
    # An engine whose connections always fail, as when the database server is gone.
    broken = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    with TestClient(create_app(wdb.settings(), engine=broken), raise_server_exceptions=False) as client:
        response = client.post("/graphql", json={"query": "{ kpis(first: 2) { totalCount } }"})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    (error,) = response.json()["errors"]
    assert error["message"] == DATABASE_UNAVAILABLE
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "127.0.0.1" not in response.text
