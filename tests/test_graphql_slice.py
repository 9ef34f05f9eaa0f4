"""The first GraphQL reads: the same data as REST, through the same services."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_kpi_by_slug_matches_rest(read_client: TestClient) -> None:
    body = gql(
        read_client,
        """
        query ($slug: String!) { kpi(slug: $slug) { slug code name tier direction sdgs
          dataPoints { key benchmark { value basisType isPlatformDefault } } } }""",
        slug="EN-EN-AQ-1C",
    )
    kpi = body["data"]["kpi"]
    rest = read_client.get("/api/v1/kpis/EN-EN-AQ-1C").json()
    assert kpi["code"] == rest["code"]
    assert kpi["name"] == rest["name"]
    assert kpi["sdgs"] == rest["sdgs"]
    assert [dp["key"] for dp in kpi["dataPoints"]] == [dp["key"] for dp in rest["data_points"]]
    assert kpi["dataPoints"][0]["benchmark"]["basisType"] == "WHO"


def test_kpi_connection_pages_to_the_end(read_client: TestClient) -> None:
    seen: list[str] = []
    after = None
    while True:
        body = gql(
            read_client,
            """
            query ($after: String) { kpis(first: 40, after: $after) {
              totalCount pageInfo { hasNextPage endCursor } edges { cursor node { slug } } } }""",
            after=after,
        )
        connection = body["data"]["kpis"]
        assert connection["totalCount"] == 91
        seen += [e["node"]["slug"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == 91 == len(set(seen))


def test_city_with_latest_values(read_client: TestClient) -> None:
    body = gql(read_client, """{ cities(q: "Karm") { edges { node { id name country { code } } } } }""")
    karmoy = body["data"]["cities"]["edges"][0]["node"]
    detail = gql(
        read_client,
        """
        query ($id: Int!) { city(id: $id) { name kpiValuesVisible latestKpiValues { kpi dataPoint value } } }""",
        id=karmoy["id"],
    )["data"]["city"]
    rest = read_client.get(f"/api/v1/cities/{karmoy['id']}").json()
    assert [(v["kpi"], v["value"]) for v in detail["latestKpiValues"]] == [
        (v["kpi"], v["value"]) for v in rest["latest_kpi_values"]
    ]
    water_loss = [v for v in detail["latestKpiValues"] if v["kpi"] == "EC-I-WS-3C"]
    assert water_loss
    assert water_loss[0]["value"] == 35.42


def test_errors_carry_a_code(read_client: TestClient) -> None:
    body = gql(read_client, '{ kpi(slug: "NOPE") { name } }')
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "NOPE" in error["message"]
    too_many = gql(read_client, "{ kpis(first: 101) { totalCount } }")
    assert too_many["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
