"""Schemathesis against the ASGI app in process: every documented operation, all checks, anonymous and as an
admin, data that fits the schema and data that does not; a fixed seed and few examples, so that each run is
the same and short (CI runs it). It writes, so it runs on a fresh copy of the seeded database."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.core.db import unit_of_work
from app.identity.models import OrganisationKind
from app.identity.service import create_client, ensure_organisation
from app.search_index.indexer import ensure_indexes

pytestmark = pytest.mark.slow

SEED = 20261203
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READS = frozenset({"GET"})
EXAMPLES = 2
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    # No shrinking: a failure is reported as found (the seed makes it reproducible), which keeps the run short.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _admin_token(client: TestClient) -> str:
    with unit_of_work(client.app.state.engine) as session:  # type: ignore[attr-defined]
        platform = ensure_organisation(session, OrganisationKind.platform)
        new = create_client(session, name="contract admin", organisation=platform)
        client_id, secret = new.client.client_id, new.secret
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret or ""))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _rule_beyond_the_schema(response: Any) -> bool:
    """A 422 for a rule OpenAPI cannot express: one across fields (latitude with longitude, two different
    cities, year_after before year_before; pydantic reports it at the object) or across rows (a country, city
    or vendor that exists: the service's invalid-input). A field that breaks its own schema is not one of
    them and still fails."""
    if response.status_code != 422:
        return False
    problem = response.json()
    if str(problem.get("type", "")).endswith("/invalid-input"):
        return True
    return all(_object_level(str(error.get("field", ""))) for error in problem.get("errors") or [{}])


def _object_level(field: str) -> bool:
    # `body` or a list item's object (`body.outcomes.5`): a model validator's rule across its fields.
    return field == "body" or field.rsplit(".", 1)[-1].isdigit()


def positive_data_acceptance_within_the_schema(ctx: Any, response: Any, case: Any) -> bool | None:
    if _rule_beyond_the_schema(response):
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


def _without_cursor(case: Any, mode: GenerationMode) -> None:
    if mode.is_positive and case.query and "cursor" in case.query:
        # A cursor is opaque (documented: pattern, maxLength, "a string this service did not issue is 422"):
        # no schema can say which strings the service issued, so a generated one is rejected rightly.
        del case.query["cursor"]


def _acceptance_checks(case: Any, mode: GenerationMode) -> list[Any]:
    """The acceptance check for one case, or none, each exception with the reason the schema cannot carry what
    the service enforces."""
    if not mode.is_positive:
        return []
    label = case.operation.label
    comments_filter = sum(1 for name in ("challenge", "proposal") if (case.query or {}).get(name) is not None)
    if label == "GET /api/v1/comments" and comments_filter != 1:
        # "Exactly one of challenge, proposal" is not expressible for query parameters in OpenAPI 3.1; the
        # operation's description and its 422 say it.
        return []
    query = case.query or {}
    if label == "GET /api/v1/search" and int(query.get("page", 1)) * int(query.get("per_page", 20)) > 10_000:
        # The engines page no deeper than 10 000 hits: a rule across two parameters (documented as 422).
        return []
    if label == "POST /oauth/revoke":
        # Which clients exist is not the schema's to say: an unknown client is OAuth's 400 invalid_client.
        return []
    return [positive_data_acceptance_within_the_schema]


def _run_operation(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    failures: set[str],
    checks: dict[str, list[Any]] | None = None,
) -> int:
    """Up to EXAMPLES cases of one operation in one mode; returns how many ran, adds each failure once."""
    runs = 0

    @HYPOTHESIS
    @fixed_seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        nonlocal runs
        runs += 1
        _without_cursor(case, mode)
        try:
            rest_checks = {
                "excluded_checks": [positive_data_acceptance],
                "additional_checks": _acceptance_checks(case, mode),
            }
            case.call_and_validate(headers=headers, **(checks or rest_checks))
        except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup naming the checks that failed
            failures.add(f"{operation.label} [{mode.value}]: {exc}"[:900])

    # No request breaks the schema of an operation without inputs: nothing to test negatively there.
    with contextlib.suppress(Unsatisfiable):
        check()
    return runs


def _run(schema: Any, headers: dict[str, str], methods: frozenset[str], part: int, parts: int) -> tuple[int, list[str]]:
    """Every operation of these methods in both modes (the `part`-th of `parts` shares, by label);
    returns (examples run, failures)."""
    runs, failures = 0, set[str]()
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=lambda op: op.label)
    chosen = [op for op in operations if op.method.upper() in methods]
    for operation in chosen[part::parts]:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            runs += _run_operation(operation, mode, headers, failures)
    return runs, sorted(failures)


# Runs on fresh databases of their own, so that the longest is a small share of the whole (they run in
# parallel): anonymous reads (public data), an admin's reads, and an admin's writes in three shares (every
# third operation by label; together, every write operation). Anonymous writes are covered by the admin's
# runs: their ignored_auth check sends each of them again without the token and expects the documented 401.
WRITE_SHARES = 3
REST_RUNS = {
    "anonymous-reads": ("anonymous", READS, 0, 1),
    "admin-reads": ("admin", READS, 0, 1),
    **{f"admin-writes-{n + 1}of{WRITE_SHARES}": ("admin", WRITES, n, WRITE_SHARES) for n in range(WRITE_SHARES)},
}


@pytest.mark.parametrize("run", sorted(REST_RUNS))
def test_schemathesis_rest(client: TestClient, run: str) -> None:
    who, methods, part, parts = REST_RUNS[run]
    # The fresh database has no search index yet (the indexer builds it in the background): without one
    # search is rightly 503, which is not what this run is about.
    ensure_indexes(client.app.state.search)  # type: ignore[attr-defined]
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    headers = {"Authorization": f"Bearer {_admin_token(client)}"} if who == "admin" else {}
    runs, failures = _run(schema, headers, methods, part, parts)
    print(f"schemathesis REST {run}: {runs} examples, {len(failures)} failures")
    assert not failures, "\n\n".join(failures)


# The limits of app/graphql/limits.py: documented refusals of a query too deep, too wide or too costly.
GRAPHQL_LIMITS = frozenset({"QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "QUERY_TOO_COSTLY"})


def _labelled_client_errors(response: Any) -> bool:
    """Every GraphQL error is a client's: a Problem's 4xx status (a missing id, an invalid input) or a limit.
    Schemathesis knows Apollo's and graphql-java's labels only; this service labels each error with the status
    it has in REST (app/graphql/schema.py), so its NOT_FOUND and INVALID_INPUT read as server errors there."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return False
    extensions = [error.get("extensions") or {} for error in errors]
    return bool(errors) and all(
        400 <= int(ext.get("status", 0)) < 500 or ext.get("code") in GRAPHQL_LIMITS for ext in extensions
    )


def graphql_not_a_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code < 500 and _labelled_client_errors(response):
        return None
    result: bool | None = not_a_server_error(ctx, response, case)
    return result


def graphql_positive_data_acceptance(ctx: Any, response: Any, case: Any) -> bool | None:
    if _labelled_client_errors(response):
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


def _run_graphql(schema: Any, headers: dict[str, str]) -> tuple[int, list[str]]:
    runs, failures = 0, set[str]()
    checks = {
        "excluded_checks": [not_a_server_error, positive_data_acceptance],
        "additional_checks": [graphql_not_a_server_error, graphql_positive_data_acceptance],
    }
    for result in schema.get_all_operations():
        # GraphQL validates a query against its own schema: positive data is what there is to generate.
        runs += _run_operation(result.ok(), GenerationMode.POSITIVE, headers, failures, checks)
    return runs, sorted(failures)


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_schemathesis_graphql(client: TestClient, who: str) -> None:
    schema = schemathesis.graphql.from_asgi("/graphql", client.app)
    headers = {"Authorization": f"Bearer {_admin_token(client)}"} if who == "admin" else {}
    runs, failures = _run_graphql(schema, headers)
    print(f"schemathesis GraphQL {who}: {runs} examples, {len(failures)} failures")
    assert not failures, "\n\n".join(failures)
