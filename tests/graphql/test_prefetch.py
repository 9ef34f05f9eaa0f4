"""A page of solutions loads what its query asks of them once for the page (app/solutions/graphql.py,
`prefetch_page`), and a KPI asked only for its own fields comes from the row its impact's statement loaded:
the answers are those of the full path, a KPI object made for a narrow selection is never handed to a wider
one, and what the query does not ask (or skips) is not loaded."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import StatementCounter
from tests.graphql.conftest import data

OWN_FIELDS = "slug code name dimension subdimension category tier unit direction officialSdgReference provenance notes"
OWN_FIELDS += " language originalLanguage fieldLanguages { field language } __typename"


def _kpis(page: dict[str, Any], impacts: str = "kpiImpacts") -> list[dict[str, Any]]:
    return [i["kpi"] for edge in page["edges"] for i in edge["node"][impacts]]


def test_a_kpi_asked_for_its_own_fields_answers_as_the_full_kpi(read_client: TestClient) -> None:
    """The narrow selection (the KPI row from the impacts' statement) and the wide one (the KPI loader, with
    framework and data points) give the same values for the fields they share."""
    query = f"""{{ narrow: solutions(first: 20) {{ edges {{ node {{ kpiImpacts {{ kpi {{ {OWN_FIELDS} }} }} }} }} }}
      wide: solutions(first: 20) {{ edges {{ node {{ kpiImpacts {{ kpi {{ {OWN_FIELDS} framework }} }} }} }} }} }}"""
    result = data(read_client, query)
    narrow, wide = _kpis(result["narrow"]), _kpis(result["wide"])
    assert narrow, "the seeded solutions claim KPI impacts"
    assert all(k.pop("framework") for k in wide)
    assert narrow == wide


def test_a_narrow_kpi_is_never_handed_to_a_wider_selection(read_client: TestClient) -> None:
    """Two selections of the same page's impacts (aliases, a fragment): one asking framework, SDGs and data
    points gets them, whichever comes first."""
    query = """{ solutions(first: 20) { edges { node {
        a: kpiImpacts { kpi { slug } }
        b: kpiImpacts { kpi { slug ...Wide } } } } } }
      fragment Wide on Kpi { framework sdgs dataPoints { key unit } }"""
    page = data(read_client, query)["solutions"]
    wide = _kpis(page, "b")
    assert wide
    assert all(k["framework"] for k in wide)
    assert any(k["dataPoints"] for k in wide)
    assert any(k["sdgs"] for k in wide)
    assert [k["slug"] for k in _kpis(page, "a")] == [k["slug"] for k in wide]
    # The same KPIs under a sibling root field that asks for less, in the same request.
    query = """{ narrow: solutions(first: 20) { edges { node { kpiImpacts { kpi { slug } } } } }
      wide: solutions(first: 20) { edges { node { kpiImpacts { kpi { slug dataPoints { key } } } } } } }"""
    result = data(read_client, query)
    assert any(k["dataPoints"] for k in _kpis(result["wide"]))


def _count(client: TestClient, query: str, **variables: Any) -> int:
    with StatementCounter(client.app.state.engine) as counter:  # type: ignore[attr-defined]
        data(client, query, **variables)
    return counter.count


def test_a_narrow_kpi_selection_costs_no_kpi_statements(read_client: TestClient) -> None:
    page = "query { solutions(first: 20) { edges { node { title kpiImpacts { expectedEffect %s } } } } }"
    without = _count(read_client, page % "")
    narrow = _count(read_client, page % "kpi { slug name }")
    wide = _count(read_client, page % "kpi { slug dataPoints { key } }")
    assert narrow == without < wide


def test_what_the_query_skips_is_not_loaded(read_client: TestClient) -> None:
    page = "query ($skip: Boolean!) { solutions(first: 20) { edges { node { title %s } } } }"
    without = _count(read_client, "{ solutions(first: 20) { edges { node { title } } } }")
    assert _count(read_client, page % "vendor @skip(if: $skip) { name }", skip=True) == without
    assert _count(read_client, page % "kpiImpacts @include(if: $skip) { kpi { slug } }", skip=False) == without
    assert _count(read_client, page % "vendor @skip(if: $skip) { name }", skip=False) > without


def test_one_solution_reads_its_vendor_in_its_own_session(read_client: TestClient) -> None:
    """solution(id) with its vendor: one session for both, so no more statements than the vendor's own."""
    first = data(read_client, "{ solutions(first: 1) { edges { node { id } } } }")["solutions"]["edges"][0]["node"]
    one = "query ($id: Int!) { solution(id: $id) { title %s } }"
    alone = _count(read_client, one % "", id=first["id"])
    with_vendor = _count(read_client, one % "vendor { name }", id=first["id"])
    assert with_vendor == alone + 1
    assert data(read_client, one % "vendor { name }", id=first["id"])["solution"]["vendor"]["name"]
