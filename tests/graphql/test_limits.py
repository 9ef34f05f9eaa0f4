"""Every limit of /graphql accepts a query just under it and refuses one just over it, before anything runs,
with a machine-readable code; production hides the schema and unexpected exception text."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry.schema.schema as schema_module
from fastapi.testclient import TestClient
from graphql import OperationDefinitionNode, get_introspection_query, parse
from graphql.language import Lexer, Source, TokenKind

from app.core.config import Settings
from app.graphql.analysis import OperationAnalysis
from app.graphql.schema import build_schema
from tests.conftest import StatementCounter
from tests.graphql.conftest import data, post, refusal

# Ten levels of selection sets below the top-level field (every field here has a selection set)...
DEPTH_10 = """{ hubs(first: 1) { edges { node { catalogue(first: 1) { edges { node { solution {
  kpiImpacts { kpi { dataPoints { key } } } } } } } } } } }"""
# ...and eleven.
DEPTH_11 = """{ hubs(first: 1) { edges { node { catalogue(first: 1) { edges { node { solution {
  kpiImpacts { kpi { dataPoints { benchmark { value } } } } } } } } } } } }"""

# 1 (hubs) + 33 x (edges + node + catalogue) + 33 x 100 x (edges + node + status) = 1 + 99 + 9900
AT_COST_LIMIT = "{ hubs(first: 33) { edges { node { catalogue(first: 100) { edges { node { status } } } } } } }"
OVER_COST_LIMIT = (
    "{ hubs(first: 33) { totalCount edges { node { catalogue(first: 100) { edges { node { status } } } } } } }"
)


def engine_of(client: TestClient) -> Any:
    return client.app.state.engine  # type: ignore[attr-defined]


def assert_refused_before_running(client: TestClient, query: str, code: str, **variables: Any) -> dict[str, Any]:
    """Refused with `code`, and not one SQL statement ran (the principal of an anonymous call needs none)."""
    with StatementCounter(engine_of(client)) as counter:
        error = refusal(client, query, **variables)
    assert error["extensions"]["code"] == code, error
    assert counter.count == 0, counter.statements
    return error


def tokens(query: str) -> int:
    lexer, count = Lexer(Source(query)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


# ------------------------------------------------------------------------------------------------ depth


def test_depth_10_runs_and_11_is_refused(read_client: TestClient) -> None:
    nodes = data(read_client, DEPTH_10)["hubs"]["edges"]
    assert nodes[0]["node"]["catalogue"]["edges"][0]["node"]["solution"]["kpiImpacts"][0]["kpi"]["dataPoints"]
    error = assert_refused_before_running(read_client, DEPTH_11, "QUERY_TOO_DEEP")
    assert error["extensions"]["depth"] == 11
    assert error["extensions"]["limit"] == 10
    assert "11 levels deep, over the limit of 10" in error["message"]


def test_depth_counts_through_fragments(read_client: TestClient) -> None:
    query = """{ hubs(first: 1) { edges { node { ...Entries } } } }
      fragment Entries on Hub { catalogue(first: 1) { edges { node { solution { ...Impacts } } } } }
      fragment Impacts on Solution { kpiImpacts { kpi { dataPoints { benchmark { value } } } } }"""
    assert refusal(read_client, query)["extensions"]["depth"] == 11


# ------------------------------------------------------------------------------------------------ aliases


def aliased(n: int) -> str:
    return "{ " + " ".join(f"a{i}: kpis(first: 1) {{ totalCount }}" for i in range(n)) + " }"


def test_15_aliases_run_and_16_are_refused(read_client: TestClient) -> None:
    assert data(read_client, aliased(15))["a14"] == {"totalCount": 91}
    error = assert_refused_before_running(read_client, aliased(16), "TOO_MANY_ALIASES")
    assert error["extensions"]["aliases"] == 16
    assert error["extensions"]["limit"] == 15


def test_aliases_in_a_fragment_count_at_each_spread(read_client: TestClient) -> None:
    fields = " ".join(f"a{i}: totalCount" for i in range(8))
    query = f"{{ x: kpis(first: 1) {{ ...Eight }} }} fragment Eight on KpiConnection {{ {fields} }}"
    assert "errors" not in post(read_client, query)  # 9 aliases
    twice = (
        f"{{ x: kpis(first: 1) {{ ...Eight }} y: kpis(first: 2) {{ ...Eight }} }} "
        f"fragment Eight on KpiConnection {{ {fields} }}"
    )
    assert refusal(read_client, twice)["extensions"]["aliases"] == 18


# ------------------------------------------------------------------------------------------------ tokens


def padded(query: str, total: int) -> str:
    """`query` padded with comment lines to `total` tokens (the token limit counts comments too)."""
    base = tokens(query)
    assert base < total
    return query + "\n" + "# padding\n" * (total - base)


def test_2000_tokens_run_and_2001_are_refused(read_client: TestClient) -> None:
    query = "{ solutions(first: 2) { edges { node { title vendor { name } kpiImpacts { kpi { slug } } } } } }"
    assert len(data(read_client, padded(query, 2000))["solutions"]["edges"]) == 2
    error = assert_refused_before_running(read_client, padded(query, 2001), "TOO_MANY_TOKENS")
    assert error["extensions"]["limit"] == 2000
    assert "more than 2000 tokens" in error["message"]


def test_a_long_query_of_real_tokens_is_refused(read_client: TestClient) -> None:
    query = "{ kpis(first: 1) { " + "totalCount " * 2500 + "} }"
    assert tokens(query) > 2000
    assert_refused_before_running(read_client, query, "TOO_MANY_TOKENS")


# ------------------------------------------------------------------------------------------------ cost


def test_cost_at_the_limit_runs_and_one_over_is_refused(read_client: TestClient) -> None:
    hubs = data(read_client, AT_COST_LIMIT)["hubs"]["edges"]
    assert hubs
    assert all(h["node"]["catalogue"]["edges"] for h in hubs)
    error = assert_refused_before_running(read_client, OVER_COST_LIMIT, "QUERY_TOO_COSTLY")
    assert error["extensions"]["cost"] == 10_001
    assert error["extensions"]["limit"] == 10_000
    assert "10001, over the limit of 10000" in error["message"]


def test_cost_reads_page_sizes_from_variables_and_their_defaults(read_client: TestClient) -> None:
    query = """query ($n: Int!) { hubs(first: $n) { edges { node {
      catalogue(first: 100) { edges { node { status } } } } } } }"""
    assert "errors" not in post(read_client, query, n=33)
    assert refusal(read_client, query, n=34)["extensions"]["cost"] == 1 + 34 * 303
    with_default = """query ($n: Int = 34) { hubs(first: $n) { edges { node {
      catalogue(first: 100) { edges { node { status } } } } } } }"""
    assert refusal(read_client, with_default)["extensions"]["code"] == "QUERY_TOO_COSTLY"


def test_a_valid_document_is_kept_and_still_checked_against_each_requests_limits(
    read_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ValidDocuments: the same text again is neither parsed nor validated, but its cost is computed with each
    request's variables; a refused document is not kept (parsed, and refused, again)."""
    parsed: list[str] = []
    real_parse = schema_module.parse
    monkeypatch.setattr(schema_module, "parse", lambda source, **kw: parsed.append(source) or real_parse(source, **kw))
    query = """query KeptDocument($n: Int!) { hubs(first: $n) { edges { node {
      catalogue(first: 100) { edges { node { status } } } } } } }"""
    assert "errors" not in post(read_client, query, n=1)
    assert "errors" not in post(read_client, query, n=33)
    assert parsed == [query]
    with StatementCounter(engine_of(read_client)) as counter:
        assert refusal(read_client, query, n=34)["extensions"]["cost"] == 1 + 34 * 303
    assert counter.count == 0
    assert parsed == [query]
    unknown = "query KeptDocumentNot { kpis { totalCont } }"
    for _ in range(2):
        assert refusal(read_client, unknown)["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert parsed == [query, unknown, unknown]


def test_a_costly_query_in_fragments_is_refused(read_client: TestClient) -> None:
    query = """{ ...Hubs } fragment Hubs on Query { hubs(first: 33) { totalCount edges { node { ... on Hub {
      catalogue(first: 100) { ...Entries } } } } } }
      fragment Entries on CatalogueEntryConnection { edges { node { status } } }"""
    assert refusal(read_client, query)["extensions"]["cost"] == 10_001


def test_fragment_fan_out_is_priced_in_linear_time_and_refused(read_client: TestClient) -> None:
    """Each fragment spreading the next twice: 2^64 fields once expanded; measured once per fragment."""
    levels = 64
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    query = "{ ...F0 } " + fragments + f" fragment F{levels} on Query {{ me {{ anonymous }} }}"
    document = parse(query)
    analysis = OperationAnalysis(build_schema(Settings())._schema, _fragments(document))
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    measure = analysis.measure(operation)
    assert measure.cost == 2 * 2**levels
    assert analysis.visits <= 3 * (levels + 2), analysis.visits  # each selection walked once
    error = refusal(read_client, query)
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] == 2 * 2**levels


def _fragments(document: Any) -> dict[str, Any]:
    return {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}


def cost(query: str, **variables: Any) -> int:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return OperationAnalysis(build_schema(Settings())._schema, _fragments(document), variables).measure(operation).cost


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # the field itself only
        ("{ me { anonymous } }", 2),
        # totalCount and pageInfo are per connection, not per item
        ("{ kpis(first: 50) { totalCount pageInfo { hasNextPage } } }", 4),
        # edges x 50: edges, node, slug
        ("{ kpis(first: 50) { edges { node { slug } } } }", 1 + 50 * 3),
        # `first` omitted: the argument's default page size (20)
        ("{ kpis { edges { node { slug } } } }", 1 + 20 * 3),
        # nested connections multiply: 1 + 20 x (edges, node, catalogue) + 20 x 20 x (edges, node, status)
        ("{ hubs { edges { node { catalogue { edges { node { status } } } } } } }", 1 + 20 * 3 + 400 * 3),
        # other lists count once per parent: 1 + 50 x (edges, node, title, vendor, name, kpiImpacts, kpi, slug)
        (
            "{ solutions(first: 50) { edges { node { title vendor { name } kpiImpacts { kpi { slug } } } } } }",
            1 + 50 * 8,
        ),
        # introspection fields are free
        ("{ __typename kpis(first: 2) { __typename edges { node { __typename slug } } } }", 1 + 2 * 3),
    ],
)
def test_how_cost_is_counted(query: str, expected: int) -> None:
    assert cost(query) == expected


def test_cost_of_the_benchmarked_list_query() -> None:
    query = """{ solutions(first: 50) { edges { node { title vendor { name }
      kpiImpacts { kpi { slug name } expectedEffect evidenceLevel } } } } }"""
    assert cost(query) == 1 + 50 * 11
    assert cost("query ($n: Int!) { solutions(first: $n) { edges { node { title } } } }", n=7) == 1 + 7 * 3


# ------------------------------------------------------------------------------------------------ settings


def test_the_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYMARKET_GRAPHQL_MAX_COST", "3")
    monkeypatch.setenv("CITYMARKET_GRAPHQL_MAX_DEPTH", "1")
    monkeypatch.setenv("CITYMARKET_GRAPHQL_MAX_ALIASES", "0")
    monkeypatch.setenv("CITYMARKET_GRAPHQL_MAX_TOKENS", "20")
    settings = Settings()
    assert (settings.graphql_max_cost, settings.graphql_max_depth) == (3, 1)
    assert (settings.graphql_max_aliases, settings.graphql_max_tokens) == (0, 20)
    schema = build_schema(settings)

    def codes(query: str) -> list[str]:
        result = asyncio.run(schema.execute(query))
        assert result.data is None
        return [e.extensions["code"] for e in result.errors or [] if e.extensions]

    assert codes("{ kpis(first: 2) { edges { node { slug } } } }") == ["QUERY_TOO_DEEP", "QUERY_TOO_COSTLY"]
    assert codes("{ a: me { anonymous } }") == ["TOO_MANY_ALIASES"]
    assert codes("{ me { anonymous } }" + "\n# x" * 20) == ["TOO_MANY_TOKENS"]


def test_the_defaults() -> None:
    defaults = Settings.model_fields
    assert defaults["graphql_max_depth"].default == 10
    assert defaults["graphql_max_aliases"].default == 15
    assert defaults["graphql_max_tokens"].default == 2000
    assert defaults["graphql_max_cost"].default == 10_000


# ------------------------------------------------------------------------------------------------ batching


def test_batches_are_refused(read_client: TestClient) -> None:
    with StatementCounter(engine_of(read_client)) as counter:
        response = read_client.post("/graphql", json=[{"query": "{ kpis { totalCount } }"}] * 2)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BATCHING_NOT_ALLOWED"
    assert "one operation per request" in error["message"]
    assert counter.count == 0
    assert build_schema(Settings()).config.batching_config is None


def test_transport_errors_are_graphql_errors_with_a_code(read_client: TestClient) -> None:
    bad_json = read_client.post("/graphql", content=b"{", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    no_query = read_client.post("/graphql", json={"variables": {}})
    assert no_query.status_code == 400
    assert no_query.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_other_refusals_carry_a_code_too(read_client: TestClient) -> None:
    assert refusal(read_client, "{ kpis { totalCont } }")["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert refusal(read_client, "{ kpis { ")["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    typed = "query ($n: Int!) { kpis(first: $n) { totalCount } }"
    assert refusal(read_client, typed, n="ten")["extensions"]["code"] == "BAD_USER_INPUT"
    assert refusal(read_client, typed)["extensions"]["code"] == "BAD_USER_INPUT"
    too_many = post(read_client, typed, n=101)["errors"][0]
    assert too_many["extensions"]["code"] == "INVALID_INPUT"
    assert "between 1 and 100" in too_many["message"]


# ------------------------------------------------------------------------------------------------ dev and production


def test_dev_and_test_offer_introspection_graphiql_and_suggestions(read_client: TestClient) -> None:
    assert data(read_client, "{ __schema { queryType { name } } }")["__schema"]["queryType"]["name"] == "Query"
    assert "Did you mean" in refusal(read_client, "{ kpis { totalCont } }")["message"]
    page = read_client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


def test_production_refuses_introspection(production_client: TestClient) -> None:
    for query in ("{ __schema { description } }", '{ __type(name: "Kpi") { name } }'):
        error = assert_refused_before_running(production_client, query, "INTROSPECTION_DISABLED")
        assert "introspection has been disabled" in error["message"]
    full = post(production_client, get_introspection_query())
    assert full["data"] is None
    assert {e["extensions"]["code"] for e in full["errors"]} == {"INTROSPECTION_DISABLED"}
    # __typename is not introspection of the schema: clients (Apollo, urql) add it everywhere.
    assert data(production_client, "{ __typename kpis(first: 1) { totalCount } }")["kpis"]["totalCount"] == 91


def test_production_has_no_graphiql_and_no_suggestions(production_client: TestClient) -> None:
    page = production_client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "graphiql" not in page.text.lower()
    error = refusal(production_client, "{ kpis { totalCont } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" not in error["message"]


def test_production_keeps_the_limits(production_client: TestClient) -> None:
    assert refusal(production_client, DEPTH_11)["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert refusal(production_client, OVER_COST_LIMIT)["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert refusal(production_client, aliased(16))["extensions"]["code"] == "TOO_MANY_ALIASES"


def _explode(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("connection to db-internal-7.example failed: password=hunter2")


def test_production_masks_unexpected_exceptions_but_not_domain_errors(
    production_client: TestClient, read_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.vendors import service as vendors

    monkeypatch.setattr(vendors, "get_vendor", _explode)
    query = "{ vendor(id: 1) { name } }"
    masked = post(production_client, query)
    assert masked["errors"][0]["message"] == "Unexpected error."
    assert masked["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "hunter2" not in str(masked)
    # The same failure outside production shows its text (so the masking above is what hid it).
    assert "hunter2" in post(read_client, query)["errors"][0]["message"]
    # Client mistakes are the client's business: message and code stay.
    typed = post(production_client, "query ($n: Int!) { kpis(first: $n) { totalCount } }", n="ten")["errors"][0]
    assert typed["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Int cannot represent" in typed["message"]
    not_found = post(production_client, '{ kpi(slug: "NOPE") { name } }')["errors"][0]
    assert not_found["extensions"]["code"] == "NOT_FOUND"
    assert "NOPE" in not_found["message"]


@pytest.mark.parametrize(
    "query",
    [
        DEPTH_10,
        DEPTH_11,
        aliased(16),
        AT_COST_LIMIT,
        get_introspection_query(descriptions=True),
        "{ x: kpis(first: 1) { ...Page } } fragment Page on KpiConnection { a: totalCount edges { n: node { slug } } }",
        "{ solutions { edges { node { ... on Solution { v: vendor { name } "
        "kpiImpacts { kpi { dataPoints { key } } } } } } } }",
    ],
    ids=["depth-10", "depth-11", "aliases-16", "cost-limit", "introspection", "fragments", "inline-fragment"],
)
def test_depth_and_aliases_are_counted_as_strawberry_counts_them(query: str) -> None:
    """The linear walk replaces Strawberry's QueryDepthLimiter and MaxAliasesLimiter (exponential on fragment
    fan-out) and must count what they count."""
    from graphql import validate
    from strawberry.extensions.max_aliases import count_fields_with_alias
    from strawberry.extensions.query_depth_limiter import create_validator

    schema = build_schema(Settings())._schema
    document = parse(query)
    depths: dict[str, int] = {}
    validate(schema, document, [create_validator(1000, None, depths.update)])
    fragments = _fragments(document)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    measure = OperationAnalysis(schema, fragments).measure(operation)
    assert measure.depth == next(iter(depths.values()))
    assert measure.aliases == count_fields_with_alias(operation, fragments)
