"""Embedded mode: /readyz says ready only once this process's index has caught up with the database
(issue 14: the first "ready" of a fresh start said `consistent: false, backlog: 298`); a later backlog is
indexing lag, and the answer stays ready."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.main import create_app
from app.search_index.indexer import drain, ensure_indexes
from app.solutions.models import Solution
from search import SearchEngine
from tests.conftest import TestDatabase


def test_not_ready_until_the_index_has_caught_up_once(db: TestDatabase, engine: Engine, tantivy: SearchEngine) -> None:
    app = create_app(db.settings(indexer_in_process=True), engine=engine, search=tantivy)
    client = TestClient(app)  # no lifespan: the in-process indexer does not run, the test drains by hand
    ensure_indexes(tantivy)
    starting = client.get("/readyz")
    assert starting.status_code == 503
    assert starting.headers["content-type"] == "application/problem+json"
    assert starting.headers["retry-after"] == "1"
    body = starting.json()
    assert body["search"]["consistent"] is False
    assert body["search"]["backlog"] > 0
    assert "catching up" in body["detail"]

    drain(engine, tantivy)
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert ready.json()["search"]["consistent"] is True

    with Session(engine) as session:  # a change not yet indexed: lag, not a reason to leave the pool
        solution = session.exec(select(Solution)).first()
        assert solution is not None
        solution.title = "Changed after the start"
        session.commit()
    lagging = client.get("/readyz")
    assert lagging.status_code == 200
    assert lagging.json()["search"]["backlog"] > 0
