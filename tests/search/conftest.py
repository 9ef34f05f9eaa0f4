"""Fixtures for the search conformance suite: the run's Meilisearch server and one `engine` per kind.

The server is started once per run and shared by the workers (tests/search/meilisearch_server.py); each
test keeps to indexes of its own prefix. `engine` here shadows the database `engine` fixture of
tests/conftest.py for this folder.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from search import SearchEngine
from search.meili_engine import MeilisearchEngine
from search.tantivy_engine import TantivyEngine
from tests.search.meilisearch_server import MeiliServer, _free_port, shared_server


@pytest.fixture(scope="session")
def meili_server(tmp_path_factory: pytest.TempPathFactory) -> MeiliServer:
    return shared_server(tmp_path_factory)


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
