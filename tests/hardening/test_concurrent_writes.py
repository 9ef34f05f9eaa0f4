"""Concurrent writers on the embedded default (SQLite, WAL): they queue for the write lock instead of
failing with 503 "database is locked" (issue 12)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from app.identity.models import Role
from tests.api.writes_city.conftest import Env

pytestmark = pytest.mark.slow

WRITERS = 8
WRITES_EACH = 5


def _row(writer: int, write: int) -> dict[str, object]:
    return {
        "kpi": "SC-EH-H-1C",
        "year": 1950 + writer * WRITES_EACH + write,  # a row of its own: no write undoes another
        "value": 50.0 + write,
        "data_quality": "measured",
        "source": f"writer {writer}",
    }


def test_eight_clients_writing_kpi_values_of_one_city_all_succeed(env: Env) -> None:
    headers = env.auth(Role.city_official)
    path = f"/api/v1/cities/{env.city_a}/kpi-values"

    def writer(number: int) -> list[int]:
        return [
            env.http.put(path, json={"values": [_row(number, i)]}, headers=headers).status_code
            for i in range(WRITES_EACH)
        ]

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = Counter(status for result in pool.map(writer, range(WRITERS)) for status in result)
    assert statuses == {200: WRITERS * WRITES_EACH}, statuses
    stored = env.scalar(
        "SELECT count(*) FROM kpi_observation WHERE city_id = :city AND source LIKE 'writer %'", city=env.city_a
    )
    assert stored == WRITERS * WRITES_EACH


UPSERT = """
mutation ($city: Int!, $values: [KpiValueInput!]!) {
  upsertKpiValues(cityId: $city, values: $values) { __typename ... on MutationError { message } }
}
"""


def test_eight_clients_writing_through_graphql_all_succeed(env: Env) -> None:
    """GraphQL's mutations write in sessions of their own: the request's (its token's) must not hold the lock."""
    headers = env.auth(Role.city_official)

    def writer(number: int) -> list[str]:
        answers = []
        for i in range(WRITES_EACH):
            row = _row(number, i)
            row["dataQuality"] = row.pop("data_quality")
            variables = {"city": env.city_a, "values": [row]}
            response = env.http.post("/graphql", json={"query": UPSERT, "variables": variables}, headers=headers)
            body = response.json()
            answers.append(body["data"]["upsertKpiValues"]["__typename"] if body.get("data") else str(body))
        return answers

    with ThreadPoolExecutor(WRITERS) as pool:
        answers = Counter(answer for result in pool.map(writer, range(WRITERS)) for answer in result)
    assert answers == {"KpiValuesWrite": WRITERS * WRITES_EACH}, answers


def test_eight_clients_creating_with_idempotency_keys_all_succeed(env: Env) -> None:
    """Creates that store their answer (Idempotency-Key) and audit them: what the fuzzer's clients raced on."""
    headers = env.auth(Role.city_official)
    deadline = (date.today() + timedelta(days=30)).isoformat()

    def writer(number: int) -> list[int]:
        statuses = []
        for i in range(2):
            body = {
                "city_id": env.city_a,
                "title": f"Air {number}-{i}",
                "target_kpis": ["EN-EN-AQ-1C"],
                "deadline": deadline,
            }
            keyed = {**headers, "Idempotency-Key": f"writer-{number}-{i}"}
            statuses.append(env.http.post("/api/v1/challenges", json=body, headers=keyed).status_code)
        return statuses

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = Counter(status for result in pool.map(writer, range(WRITERS)) for status in result)
    assert statuses == {201: WRITERS * 2}, statuses
