"""Fault test of the server deployment (issue 12): the stack of docker-compose.yml, started from processes
(tests/fault/stack.py), under a bounded concurrent load of reads, searches, matches and writes on REST and
GraphQL, while the indexer is killed mid-batch and restarted, an API worker is killed (uvicorn's supervisor
starts another; the other worker keeps serving) and PostgreSQL stops abruptly for a few seconds.

What must hold, and is printed:
- every acknowledged write (a 2xx to a create with an Idempotency-Key, or to a publish) is there afterwards,
  and no create happened twice (retries reuse their key);
- once the indexer has caught up, every search index holds exactly the documents the database makes now;
- while PostgreSQL is down, every answer is a 2xx (what needs no database) or a 503 with Retry-After; within
  10 s of its return nothing answers 503 any more;
- no answer other than 2xx, 4xx and 503 at any time (a GraphQL answer with errors counts as a failure
  unless it is a 503); connection errors only when the worker serving them was killed.

Loopback only, bounded in time (about 20 s of load) and in count (MAX_REQUESTS). Marked `fault`: deselected
by default (pyproject addopts), run once by .ci/run with `-m fault -n0`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fault.stack import INDEXER_APP_NAME, Stack, admin_client, running_stack, wait_until

pytestmark = pytest.mark.fault

MAX_REQUESTS = 20_000
READERS, SEARCHERS, WRITERS = 3, 1, 3
PAUSE_S = 0.01  # between one thread's requests
OUTAGE_S = 3.0
RECOVERY_LIMIT_S = 10.0


@dataclass
class Answer:
    kind: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (connection refused or reset)
    retry_after: str | None = None
    error: str = ""


@dataclass
class Load:
    url: str
    token: str
    city_id: int
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[Answer] = field(default_factory=list)
    created: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (id, title): acknowledged creates
    published: set[int] = field(default_factory=set)  # acknowledged publishes
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, client: httpx.Client, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self._record(Answer(kind, started, time.monotonic(), None, error=type(exc).__name__))
            return None
        answer = Answer(kind, started, time.monotonic(), response.status_code, response.headers.get("Retry-After"))
        if path == "/graphql" and response.status_code == 200 and response.json().get("errors"):
            answer.error = json.dumps(response.json()["errors"])[:300]  # an error inside a 200
        self._record(answer)
        return response

    def first_ok_after(self, moment: float) -> float | None:
        """When the first request sent after `moment` was answered 2xx."""
        with self.lock:
            ends = [a.ended for a in self.answers if a.started > moment and a.status and 200 <= a.status < 300]
        return min(ends, default=None)

    def _record(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)
            if len(self.answers) >= MAX_REQUESTS:
                self.stop.set()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, headers={"Authorization": f"Bearer {self.token}"})

    # ------------------------------------------------------------------------------------------- workers

    def reader(self, number: int) -> None:
        reads: list[tuple[str, str, str, dict[str, Any]]] = [
            ("read", "GET", "/api/v1/cities?limit=5", {}),
            ("read", "GET", "/api/v1/kpis?limit=5&dimension=Environment", {}),
            ("read", "GET", "/api/v1/procurement-guidelines?limit=5", {}),
            ("match", "GET", f"/api/v1/cities/{self.city_id}/solution-matches", {}),
            ("match", "GET", f"/api/v1/cities/{self.city_id}/twin-matches", {}),
            ("graphql-read", "POST", "/graphql", {"json": {"query": "{ kpis(first: 2) { totalCount } }"}}),
        ]
        with self.client() as client:
            i = number
            while not self.stop.is_set():
                kind, method, path, kwargs = reads[i % len(reads)]
                self.send(client, kind, method, path, **kwargs)
                i += 1
                time.sleep(PAUSE_S)

    def searcher(self, _number: int) -> None:
        with self.client() as client:
            while not self.stop.is_set():
                self.send(client, "search", "GET", "/api/v1/search", params={"q": "fault guideline"})
                time.sleep(PAUSE_S)

    def writer(self, number: int) -> None:
        """Creates a guideline (Idempotency-Key; retried with the same key until acknowledged), then
        publishes it (If-Match); odd writers through GraphQL."""
        graphql = number % 2 == 1
        with self.client() as client:
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                title = f"Fault guideline {key}"
                made = self._create_gql(client, key, title) if graphql else self._create_rest(client, key, title)
                if made is None:
                    continue
                guideline_id, version = made
                with self.lock:
                    self.created[key] = (guideline_id, title)
                for _ in range(50):
                    if self.stop.is_set():
                        break
                    if (self._publish_gql if graphql else self._publish_rest)(client, guideline_id, version):
                        with self.lock:
                            self.published.add(guideline_id)
                        break
                    time.sleep(0.1)
                time.sleep(PAUSE_S)

    def _create_rest(self, client: httpx.Client, key: str, title: str) -> tuple[int, int] | None:
        body = {"title": title, "stage": "tender_design", "summary": "Written under faults.", "language": "en"}
        while not self.stop.is_set():
            response = self.send(client, "write", "POST", "/api/v1/procurement-guidelines",
                                 json=body, headers={"Idempotency-Key": key})  # fmt: skip
            if response is not None and response.status_code == 201:
                return int(response.json()["id"]), int(response.json()["version"])
            time.sleep(0.1)  # 503 or no answer: the same key again
        return None

    def _publish_rest(self, client: httpx.Client, guideline_id: int, version: int) -> bool:
        tag = f'"procurement_guideline-{guideline_id}-v{version}"'
        response = self.send(client, "write", "POST", f"/api/v1/procurement-guidelines/{guideline_id}/publish",
                             headers={"If-Match": tag})  # fmt: skip
        return response is not None and response.status_code == 200

    def _create_gql(self, client: httpx.Client, key: str, title: str) -> tuple[int, int] | None:
        query = (
            "mutation($input: GuidelineCreateInput!, $key: String) { createProcurementGuideline(input: $input, "
            "idempotencyKey: $key) { __typename ... on ProcurementGuideline { id version } "
            "... on MutationError { code message } } }"
        )
        variables = {"input": {"title": title, "stage": "tender_design", "summary": "Written under faults."},
                     "key": key}  # fmt: skip
        while not self.stop.is_set():
            response = self.send(client, "graphql-write", "POST", "/graphql",
                                 json={"query": query, "variables": variables})  # fmt: skip
            if response is not None and response.status_code == 200 and not response.json().get("errors"):
                result = response.json()["data"]["createProcurementGuideline"]
                if result["__typename"] == "ProcurementGuideline":
                    return int(result["id"]), int(result["version"])
            time.sleep(0.1)
        return None

    def _publish_gql(self, client: httpx.Client, guideline_id: int, version: int) -> bool:
        query = (
            "mutation($id: Int!, $v: Int!) { publishProcurementGuideline(id: $id, expectedVersion: $v) { __typename } }"
        )
        response = self.send(client, "graphql-write", "POST", "/graphql",
                             json={"query": query, "variables": {"id": guideline_id, "v": version}})  # fmt: skip
        return (
            response is not None
            and response.status_code == 200
            and not response.json().get("errors")
            and response.json()["data"]["publishProcurementGuideline"]["__typename"] == "ProcurementGuideline"
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        threads = [threading.Thread(target=self.reader, args=(i,), daemon=True) for i in range(READERS)]
        threads += [threading.Thread(target=self.searcher, args=(i,), daemon=True) for i in range(SEARCHERS)]
        threads += [threading.Thread(target=self.writer, args=(i,), daemon=True) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(30)


# ------------------------------------------------------------------------------------------------ the stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from tests.search.meilisearch_server import _binary

    root: Path = tmp_path_factory.mktemp("fault-stack")
    with running_stack(root, _binary()) as running:
        yield running


def admin_token(stack: Stack) -> str:
    response = httpx.post(
        f"{stack.api_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=admin_client(stack.postgres.url),
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def kill_indexer_mid_batch(stack: Stack, timeout: float = 8.0) -> int:
    """kill -9 the indexer while it holds a claimed batch: its transaction is open, rows claimed (FOR UPDATE),
    and it waits for the search engine to confirm. Returns how many outbox rows were pending then."""
    with stack.postgres.connect() as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'idle in transaction'"
                " AND xact_start IS NOT NULL",
                (INDEXER_APP_NAME,),
            ).fetchone()
            if row and row[0]:
                stack.kill("indexer")
                pending = conn.execute("SELECT count(*) FROM search_outbox WHERE processed_at IS NULL").fetchone()
                return int(pending[0]) if pending else 0
            time.sleep(0.002)
    raise AssertionError(f"the indexer was never seen in a batch within {timeout:.0f} s")


# ------------------------------------------------------------------------------------------------ the test


def test_server_stack_survives_faults(stack: Stack) -> None:
    token = admin_token(stack)
    with stack.postgres.connect() as conn:
        city = conn.execute("SELECT id FROM city ORDER BY id LIMIT 1").fetchone()
    assert city is not None
    load = Load(stack.api_url, token, int(city[0]))
    events: dict[str, float] = {}
    load_started = time.monotonic()
    with load.running():
        time.sleep(2.0)
        # 1. the indexer, mid-batch
        pending_at_kill = kill_indexer_mid_batch(stack)
        events["indexer killed"] = time.monotonic()
        time.sleep(1.0)
        stack.start_indexer()
        events["indexer restarted"] = time.monotonic()
        time.sleep(2.0)
        # 2. one API worker
        workers_before = stack.api_workers()
        assert len(workers_before) == 2, f"expected 2 API workers, found {workers_before}"
        os.kill(workers_before[0], signal.SIGKILL)
        killed = events["worker killed"] = time.monotonic()
        wait_until("a replacement worker", lambda: len(set(stack.api_workers()) - set(workers_before)) == 1, 20)
        events["worker respawned"] = time.monotonic()  # by uvicorn's supervisor
        with contextlib.suppress(RuntimeError):
            wait_until("a 2xx after the kill", lambda: load.first_ok_after(killed) is not None, 15)
        time.sleep(0.5)
        # 3. PostgreSQL, abruptly
        events["database stopped"] = time.monotonic()
        stack.postgres.stop_immediately()
        time.sleep(OUTAGE_S)
        stack.postgres.start()
        events["database back"] = time.monotonic()
        time.sleep(RECOVERY_LIMIT_S / 2 + 1)
    load_ended = time.monotonic()

    # ------------------------------------------------------------------------------- what was answered
    answers = load.answers
    down, up = events["database stopped"], events["database back"]
    by_status = collections.Counter(str(a.status) if a.status is not None else "no answer" for a in answers)
    by_kind = collections.Counter(a.kind for a in answers)
    bad_status = [a for a in answers if a.status is not None and not (200 <= a.status < 500 or a.status == 503)]
    gql_errors = [a for a in answers if a.error and a.status == 200]
    no_retry_after = [a for a in answers if a.status == 503 and not a.retry_after]
    during = [a for a in answers if down <= a.ended <= up]
    wrong_during = [a for a in during if a.status is None or not (200 <= a.status < 300 or a.status == 503)]
    unavailable_after = [a for a in answers if a.status == 503 and a.started > up]
    recovery = max((a.ended - up for a in unavailable_after), default=0.0)
    first_ok_after = min((a.ended - up for a in answers if a.started > up and a.kind != "search"
                          and a.status is not None and 200 <= a.status < 300), default=None)  # fmt: skip
    unavailable_outside = [a for a in answers if a.status == 503 and (a.ended < down or a.started > up + recovery)]
    killed = events["worker killed"]
    served_after_kill = load.first_ok_after(killed)
    no_answer = [a for a in answers if a.status is None]
    stray_no_answer = [a for a in no_answer if not (killed - 0.5 <= a.ended <= killed + 2.0)]

    # ------------------------------------------------------------------------------- what was written
    with httpx.Client(base_url=stack.api_url, timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        lost, wrong = [], []
        for key, (guideline_id, title) in load.created.items():
            response = client.get(f"/api/v1/procurement-guidelines/{guideline_id}")
            if response.status_code != 200 or response.json()["title"] != title:
                lost.append((key, guideline_id, response.status_code))
            elif guideline_id in load.published and response.json()["status"] != "published":
                wrong.append((guideline_id, response.json()["status"]))
    with stack.postgres.connect() as conn:
        duplicates = conn.execute(
            "SELECT title, count(*) FROM procurement_guideline WHERE title LIKE 'Fault guideline %%' "
            "GROUP BY title HAVING count(*) > 1"
        ).fetchall()

    # ------------------------------------------------------------------------------- what is searchable
    caught_up_in = wait_for_indexer(stack, timeout=20.0)
    stale = stale_documents(stack)

    figures = {
        "load seconds": round(load_ended - load_started, 1),
        "requests": len(answers),
        "per status": dict(sorted(by_status.items())),
        "per kind": dict(sorted(by_kind.items())),
        "acknowledged creates": len(load.created),
        "acknowledged publishes": len(load.published),
        "lost writes": len(lost) + len(wrong),
        "duplicate creates": len(duplicates),
        "outbox rows pending when the indexer was killed": pending_at_kill,
        "indexer caught up (s after the load)": round(caught_up_in, 2) if caught_up_in is not None else None,
        "events (s from the start of the load)": {k: round(v - load_started, 2) for k, v in events.items()},
        "stale search documents": sum(len(v) for v in stale.values()),
        "documents per index": {k: v for k, v in count_documents(stack).items()},
        "answers during the outage": dict(collections.Counter(str(a.status) for a in during)),
        "503 without Retry-After": len(no_retry_after),
        "recovery (s after the database was back, last 503)": round(recovery, 2),
        "first 2xx from the database after it was back (s)": round(first_ok_after, 2) if first_ok_after else None,
        "503 outside the outage": len(unavailable_outside),
        "no answer (connection reset by the killed worker)": len(no_answer),
        "worker respawned after (s)": round(events["worker respawned"] - killed, 2),
        "first 2xx after the worker kill (s)": round(served_after_kill - killed, 2) if served_after_kill else None,
    }
    print("\nfault test figures:\n" + json.dumps(figures, indent=2))

    assert caught_up_in is not None, f"the indexer did not catch up; its log: {stack.log_tail('indexer')}"
    assert not bad_status, f"answers other than 2xx/4xx/503: {bad_status[:5]}"
    assert not gql_errors, f"GraphQL errors inside a 200: {gql_errors[:3]}"
    assert not no_retry_after, f"503 without Retry-After: {no_retry_after[:3]}"
    assert any(a.status == 503 for a in during), "the outage was not seen (no 503 while PostgreSQL was down)"
    assert not wrong_during, f"during the outage, answers other than 2xx or 503: {wrong_during[:5]}"
    assert recovery <= RECOVERY_LIMIT_S, f"503 answered {recovery:.1f} s after the database was back"
    assert first_ok_after is not None
    assert first_ok_after <= RECOVERY_LIMIT_S
    assert not unavailable_outside, f"503 outside the outage: {unavailable_outside[:5]}"
    assert not stray_no_answer, f"requests without an answer away from the worker kill: {stray_no_answer[:5]}"
    assert served_after_kill is not None, "nothing was answered 2xx after an API worker was killed"
    assert served_after_kill - killed <= RECOVERY_LIMIT_S, "the API did not serve within 10 s of a worker kill"
    assert load.created, "no create was acknowledged"
    assert load.published, "no publish was acknowledged"
    assert not lost, f"acknowledged creates lost: {lost[:5]}"
    assert not wrong, f"acknowledged publishes lost: {wrong[:5]}"
    assert not duplicates, f"creates made twice despite their Idempotency-Key: {duplicates[:5]}"
    assert not any(stale.values()), f"stale search documents: { {k: v[:5] for k, v in stale.items()} }"


# ------------------------------------------------------------------------------------------------ search


def wait_for_indexer(stack: Stack, timeout: float) -> float | None:
    """Seconds until no outbox row is pending; None when some still are after `timeout`."""
    started = time.monotonic()
    with stack.postgres.connect() as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM search_outbox WHERE processed_at IS NULL").fetchone()
            if row and row[0] == 0:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                return None
            time.sleep(0.1)


def _meili(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.meili_url, headers={"Authorization": f"Bearer {stack.meili_key}"}, timeout=10)


def count_documents(stack: Stack) -> dict[str, int]:
    from app.search_index.indexes import DEFINITIONS

    with _meili(stack) as meili:
        return {
            name: int(meili.get(f"/indexes/citymarket_{name}/stats").json()["numberOfDocuments"])
            for name in DEFINITIONS
        }


def stale_documents(stack: Stack) -> dict[str, list[str]]:
    """Per index, the documents that differ between the engine and what the database makes now (built by the
    service's own builders): missing, left over, or with other content."""
    from sqlmodel import Session, create_engine

    from app.search_index.documents import BUILDERS, searchable_ids

    engine = create_engine(stack.postgres.url)
    stale: dict[str, list[str]] = {}
    try:
        with Session(engine) as session, _meili(stack) as meili:
            for index, build in BUILDERS.items():
                ids = sorted(int(i) for i in session.execute(searchable_ids(index)).scalars())
                want = {d["id"]: json.loads(json.dumps(d, default=str)) for d in build(session, ids)}
                response = meili.get(f"/indexes/citymarket_{index}/documents", params={"limit": 100_000})
                have = {d["id"]: d for d in response.json()["results"]} if response.status_code == 200 else {}
                stale[index] = sorted(
                    [f"missing {i}" for i in want.keys() - have.keys()]
                    + [f"left over {i}" for i in have.keys() - want.keys()]
                    + [f"differs {i}" for i in want.keys() & have.keys() if want[i] != have[i]]
                )
    finally:
        engine.dispose()
    return stale
