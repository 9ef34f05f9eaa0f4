"""Optimistic concurrency on every catalogue update: If-Match missing (428), stale (412, with the current ETag),
and two clients racing with the same ETag: exactly one wins."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.solutions import service as solutions_service
from tests.api.writes_catalogue.conftest import ADMIN, CURATOR, VENDOR, Api, assert_problem
from tests.identity.conftest import BASE_URL


def updates(api: Api) -> list[tuple[str, str, Any, Any, str]]:
    """(method, path, role, body, the path whose ETag it needs) for one update of each kind."""
    listing = api.create()
    published = api.published(title="Published for curation")
    hub = api.world.hub["a"]
    put = api.call("PUT", f"/api/v1/hubs/{hub}/catalogue/{published['id']}", CURATOR, json={"status": "approved"})
    assert put.status_code == 201, put.text
    case = api.call("POST", "/api/v1/case-studies", ADMIN, json={"title": "A case"}).json()
    guideline = api.call("POST", "/api/v1/procurement-guidelines", ADMIN, json={"title": "G", "stage": "evaluation"})
    vendor = api.world.vendor["a"]
    sid, cid, gid = listing["id"], case["id"], guideline.json()["id"]
    entry = f"/api/v1/hubs/{hub}/catalogue/{published['id']}"
    benchmark = "/api/v1/kpis/EN-EN-AQ-1C/data-points/PM10/benchmark"
    return [
        ("PATCH", f"/api/v1/solutions/{sid}", VENDOR, {"summary": "x"}, f"/api/v1/solutions/{sid}"),
        ("POST", f"/api/v1/solutions/{sid}/submit", VENDOR, None, f"/api/v1/solutions/{sid}"),
        ("DELETE", f"/api/v1/solutions/{sid}", VENDOR, None, f"/api/v1/solutions/{sid}"),
        ("PATCH", f"/api/v1/vendors/{vendor}", VENDOR, {"website": "https://example.org"}, f"/api/v1/vendors/{vendor}"),
        ("POST", f"/api/v1/vendors/{vendor}/verify", ADMIN, None, f"/api/v1/vendors/{vendor}"),
        ("PATCH", f"/api/v1/case-studies/{cid}", ADMIN, {"year": 2021}, f"/api/v1/case-studies/{cid}"),
        ("POST", f"/api/v1/case-studies/{cid}/publish", ADMIN, None, f"/api/v1/case-studies/{cid}"),
        (
            "PATCH",
            f"/api/v1/procurement-guidelines/{gid}",
            ADMIN,
            {"summary": "x"},
            f"/api/v1/procurement-guidelines/{gid}",
        ),
        ("PUT", entry, CURATOR, {"status": "featured"}, entry),
        ("DELETE", entry, CURATOR, None, entry),
        ("PUT", benchmark, ADMIN, {"value": 40, "basis_type": "WHO", "basis": "WHO 2021"}, benchmark),
    ]


def test_an_update_without_if_match_is_428_and_changes_nothing(api: Api) -> None:
    for method, path, role, body, read in updates(api):
        before = api.get(read, ADMIN if "solutions" in read else role)
        response = api.call(method, path, role, json=body)
        assert_problem(response, 428, "If-Match")
        after = api.get(read, ADMIN if "solutions" in read else role)
        assert after.headers["ETag"] == before.headers["ETag"], path
        assert after.json() == before.json(), path


def test_a_stale_if_match_is_412_with_the_current_etag(api: Api) -> None:
    for method, path, role, body, read in updates(api):
        reader = ADMIN if "solutions" in read else role
        current = api.etag(read, reader)
        prefix, version = re.fullmatch(r'(".*-v)(\d+)"', current).groups()  # type: ignore[union-attr]
        stale = f'{prefix}{int(version) - 1}"'  # an earlier read
        problem = assert_problem(api.call(method, path, role, json=body, if_match=stale), 412)
        assert problem["current_etag"] == current, path
        assert api.etag(read, reader) == current, path


def test_an_etag_of_another_object_is_412(api: Api) -> None:
    one, two = api.create(title="One"), api.create(title="Two")
    other = api.etag(f"/api/v1/solutions/{two['id']}")
    response = api.call("PATCH", f"/api/v1/solutions/{one['id']}", VENDOR, json={"summary": "x"}, if_match=other)
    assert_problem(response, 412, "not an ETag of this solution")
    weak = "W/" + api.etag(f"/api/v1/solutions/{one['id']}")
    response = api.call("PATCH", f"/api/v1/solutions/{one['id']}", VENDOR, json={"summary": "y"}, if_match=weak)
    assert response.status_code == 200, response.text


def test_two_clients_racing_with_the_same_etag_exactly_one_wins(
    api: Api, wapp: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = api.create()
    sid = listing["id"]
    tag = api.etag(f"/api/v1/solutions/{sid}", VENDOR)
    headers = api.headers(VENDOR, if_match=tag)

    # Make the race real: whoever claims the version first holds its transaction open until the other request
    # has started its write too (on SQLite the other then waits for the write lock in its BEGIN IMMEDIATE, on
    # PostgreSQL for the row lock); only then does the first commit. The loser must then see the new version.
    entered: list[int] = []
    both_in_flight = threading.Event()
    guard = threading.Lock()
    real_lock, real_claim = solutions_service.lock_for_write, solutions_service.claim_version
    sqlite = api.engine.dialect.name == "sqlite"
    saw_the_other: list[bool] = []  # per claim: was the other request writing while this one held its version

    def started_writing() -> None:
        with guard:
            entered.append(1)
            if len(entered) == 2:
                both_in_flight.set()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "BEGIN IMMEDIATE":  # SQLite: a writing request asks for the write lock here
            started_writing()

    def lock_for_write(session: Session) -> None:
        if not sqlite:
            started_writing()
        real_lock(session)

    sa.event.listen(api.engine, "before_cursor_execute", on_statement)

    def claim_version(session: Session, model: Any, object_id: int, expected: int) -> int:
        version = real_claim(session, model, object_id, expected)
        saw_the_other.append(both_in_flight.wait(timeout=30))
        return version

    monkeypatch.setattr(solutions_service, "lock_for_write", lock_for_write)
    monkeypatch.setattr(solutions_service, "claim_version", claim_version)

    start = threading.Barrier(2)

    def patch(summary: str) -> httpx.Response:
        client = TestClient(wapp, base_url=BASE_URL)  # its own event loop and its own connections
        start.wait(timeout=30)
        return client.patch(f"/api/v1/solutions/{sid}", json={"summary": summary}, headers=headers)

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            responses = list(pool.map(patch, ["Written by A", "Written by B"]))
    finally:
        sa.event.remove(api.engine, "before_cursor_execute", on_statement)

    assert both_in_flight.is_set()
    assert saw_the_other[0], "the first claim committed before the other request began its write: no race"
    assert sorted(r.status_code for r in responses) == [200, 412], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    loser = next(r for r in responses if r.status_code == 412)
    assert loser.headers["content-type"] == "application/problem+json"
    assert loser.json()["current_etag"] == winner.headers["ETag"] == f'"solution-{sid}-v2"'
    final = api.get(f"/api/v1/solutions/{sid}", VENDOR).json()
    assert final["summary"] == winner.json()["summary"]
    assert final["version"] == 2
    assert [e["action"] for e in api.audit("solution", sid)] == ["solution.create", "solution.update"]
