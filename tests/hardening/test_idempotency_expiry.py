"""Idempotency records expire after a window (a setting, 24 h by default) without losing a replay inside it,
and expired records are deleted as keyed creates come in, so that the table does not grow forever (issue 12)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.identity.models import Role
from tests.api.writes_city.conftest import Env

PATH = "/api/v1/challenges"


def _body(env: Env) -> dict[str, Any]:
    deadline = (date.today() + timedelta(days=30)).isoformat()
    return {"city_id": env.city_a, "title": "Cleaner air", "target_kpis": ["EN-EN-AQ-1C"], "deadline": deadline}


def _post(env: Env, http: TestClient, key: str) -> Any:
    return http.post(PATH, json=_body(env), headers={**env.auth(Role.city_official), "Idempotency-Key": key})


def _age_records(env: Env, age: timedelta) -> None:
    env.execute("UPDATE idempotency_record SET created_at = :at", at=datetime.now(UTC) - age)


def test_the_default_window_is_24_hours() -> None:
    assert Settings().idempotency_ttl_seconds == 24 * 3600


def test_a_replay_inside_the_window_answers_the_first_create(env: Env) -> None:
    first = _post(env, env.http, "k-1")
    assert first.status_code == 201, first.text
    _age_records(env, timedelta(hours=23))
    again = _post(env, env.http, "k-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_after_the_window_the_key_is_a_new_request(env: Env) -> None:
    first = _post(env, env.http, "k-1")
    _age_records(env, timedelta(hours=25))
    again = _post(env, env.http, "k-1")
    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert env.scalar("SELECT count(*) FROM idempotency_record WHERE key = 'k-1'") == 1  # the new answer's


def test_expired_records_are_deleted_by_later_keyed_creates(env: Env) -> None:
    for number in range(3):
        assert _post(env, env.http, f"old-{number}").status_code == 201
    _age_records(env, timedelta(days=2))
    assert _post(env, env.http, "new").status_code == 201
    assert [row["key"] for row in env.rows("SELECT key FROM idempotency_record")] == ["new"]


def test_the_window_is_a_setting(env: Env, make_city_app: Any) -> None:
    with TestClient(make_city_app(idempotency_ttl_seconds=60), base_url=str(env.http.base_url)) as http:
        first = _post(env, http, "k-1")
        _age_records(env, timedelta(minutes=2))
        again = _post(env, http, "k-1")
    assert again.json()["id"] != first.json()["id"]
