"""Fixtures for the search conformance suite: a real Meilisearch server and one `engine` per kind.

The Meilisearch binary comes from `.ci/meilisearch.sh` (or CITYMARKET_MEILISEARCH_BIN). When it
cannot be had or does not start, the Meilisearch-parametrised tests are skipped with the reason,
unless CITYMARKET_REQUIRE_MEILISEARCH=1, which turns that into a failure (CI sets it).

`engine` here shadows the database `engine` fixture of tests/conftest.py for this folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from search import SearchEngine
from search.meili_engine import MeilisearchEngine
from search.tantivy_engine import TantivyEngine

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / ".ci" / "meilisearch.sh"
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MeiliServer:
    url: str
    api_key: str


def _unavailable(reason: str) -> None:
    if os.environ.get("CITYMARKET_REQUIRE_MEILISEARCH") == "1":
        pytest.fail(f"Meilisearch is required (CITYMARKET_REQUIRE_MEILISEARCH=1) but {reason}", pytrace=False)
    pytest.skip(f"Meilisearch test server not available: {reason}")


def _binary() -> Path:
    override = os.environ.get("CITYMARKET_MEILISEARCH_BIN")
    if override:
        return Path(override)
    if shutil.which("bash") is None:
        _unavailable("bash is missing, cannot run .ci/meilisearch.sh")
    try:
        done = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f".ci/meilisearch.sh failed to run: {exc}")
    if done.returncode != 0 or not done.stdout.strip():
        _unavailable(f".ci/meilisearch.sh exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def meili_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeiliServer]:
    binary = _binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        _unavailable(f"{binary} is not an executable file")
    workdir = tmp_path_factory.mktemp("meilisearch")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    api_key = secrets.token_hex(24)  # hex: a key starting with "-" would read as a flag
    log_path = workdir / "meilisearch.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                str(binary),
                "--http-addr", f"127.0.0.1:{port}",
                "--master-key", api_key,
                "--db-path", str(workdir / "data.ms"),
                "--dump-dir", str(workdir / "dumps"),
                "--snapshot-dir", str(workdir / "snapshots"),
                "--env", "development",
                "--no-analytics",
                "--log-level", "WARN",
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                _unavailable(f"it exited with {process.returncode}: {log_path.read_text(errors='replace')[-800:]}")
            if time.monotonic() > deadline:
                _unavailable(f"/health did not answer within {STARTUP_TIMEOUT_S:.0f}s")
            time.sleep(0.1)
        yield MeiliServer(url, api_key)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _drop_prefixed(server: MeiliServer, prefix: str) -> None:
    import meilisearch

    client = meilisearch.Client(server.url, server.api_key)
    for index in client.get_indexes({"limit": 1000})["results"]:
        if index.uid.startswith(prefix):
            client.delete_index(index.uid)


EngineMaker = Callable[[], SearchEngine]


@pytest.fixture(params=["tantivy", pytest.param("meilisearch", marks=pytest.mark.meilisearch)])
def engine_maker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineMaker]:
    """Builds engines of one kind sharing storage (a second one acts like another process)."""
    made: list[SearchEngine] = []
    if request.param == "tantivy":

        def make() -> SearchEngine:
            engine: SearchEngine = TantivyEngine(tmp_path / "search")
            made.append(engine)
            return engine

        yield make
    else:
        server: MeiliServer = request.getfixturevalue("meili_server")
        prefix = f"t{secrets.token_hex(4)}_"

        def make() -> SearchEngine:
            engine: SearchEngine = MeilisearchEngine(server.url, server.api_key, index_prefix=prefix)
            made.append(engine)
            return engine

        yield make
        _drop_prefixed(server, prefix)
    for engine in made:
        engine.close()


@pytest.fixture
def engine(engine_maker: EngineMaker) -> SearchEngine:
    return engine_maker()


@pytest.fixture
def unreachable_engine(request: pytest.FixtureRequest, engine: SearchEngine, tmp_path: Path) -> SearchEngine:
    """An engine of the same kind whose backend cannot be reached."""
    if isinstance(engine, TantivyEngine):
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("a file where the index directory should be")
        return TantivyEngine(blocker / "search")
    # A port that was free a moment ago: nothing listens there.
    return MeilisearchEngine(f"http://127.0.0.1:{_free_port()}", "key", request_timeout_s=2, write_timeout_s=2)
