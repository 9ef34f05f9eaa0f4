"""Fixtures for search as the app uses it: an app with its own search engine, and a Meilisearch server
that a test may stop and start again (same port, same data) to simulate an outage."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.main import create_app
from search import SearchEngine, create_engine
from tests.conftest import TestDatabase
from tests.search.meilisearch_server import _binary, _free_port, _healthy, _unavailable


class MeiliProcess:
    """A Meilisearch server on loopback that can be stopped and restarted with its data intact."""

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = secrets.token_hex(24)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.workdir / "meilisearch.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [str(self.binary), "--http-addr", f"127.0.0.1:{self.port}", "--master-key", self.api_key,
             "--db-path", str(self.workdir / "data.ms"), "--env", "development", "--no-analytics",
             "--log-level", "WARN"],
            cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not _healthy(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                _unavailable(f"Meilisearch did not start: {(self.workdir / 'meilisearch.log').read_text()[-500:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def engine(self, prefix: str) -> SearchEngine:
        return create_engine("meilisearch", url=self.url, api_key=self.api_key, index_prefix=prefix)


@pytest.fixture(scope="module")
def _meili_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeiliProcess]:
    server = MeiliProcess(_binary(), tmp_path_factory.mktemp("meilisearch"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def meili(_meili_process: MeiliProcess) -> Iterator[MeiliProcess]:
    """A Meilisearch of the module's own that the test may stop and start: one process per module (a start
    is seconds on a busy machine), running again after each test, which keeps to indexes of its own prefix."""
    yield _meili_process
    if _meili_process.process is None:  # the test stopped it and failed before starting it again
        _meili_process.start()


@pytest.fixture
def tantivy(db: TestDatabase) -> Iterator[SearchEngine]:
    engine = create_engine("tantivy", data_dir=db.data_dir / "search")
    yield engine
    engine.close()


@pytest.fixture
def search_client(db: TestDatabase, engine: Engine, tantivy: SearchEngine) -> Iterator[TestClient]:
    """The app on a fresh seeded database with an embedded index, its in-process indexer running."""
    app = create_app(db.settings(indexer_in_process=True), engine=engine, search=tantivy)
    with TestClient(app) as client:
        wait_until_consistent(client)
        yield client


def wait_until_consistent(client: TestClient, timeout: float = 60.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        ready = client.get("/readyz").json()
        if ready["search"]["consistent"]:
            return ready  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"the index did not catch up with the database: {ready}")
        time.sleep(0.1)
