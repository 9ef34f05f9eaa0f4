"""Fixtures for the search conformance suite: the run's Meilisearch server and one `engine` per kind.

The server is started once per run and shared by the workers (tests/search/meilisearch_server.py); each
test keeps to indexes of its own prefix. `engine` here shadows the database `engine` fixture of
tests/conftest.py for this folder.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from search import IndexDefinition, SearchEngine
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


# The engine kinds, as the parameters of a fixture: `meilisearch` carries its marker.
ENGINE_KINDS = ["tantivy", pytest.param("meilisearch", marks=pytest.mark.meilisearch)]


class SearchOnly:
    """A loaded engine that the tests which only search share (one per engine kind, corpus and worker,
    loaded once: on Meilisearch creating an index, applying its settings and loading it are tasks of seconds
    on a busy machine). Its writes raise, so a test that would change what the next one sees fails instead
    (a guard, not a convention: the test that writes takes an index of its own)."""

    WRITES = frozenset({"ensure_index", "upsert", "delete", "rebuild", "clear", "drop", "close"})

    def __init__(self, engine: SearchEngine) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        if name in self.WRITES:
            raise AssertionError(f"{name}() on the shared read-only index: take a fixture of the test's own")
        return getattr(self._engine, name)


class SharedIndexes:
    """The worker's shared read-only indexes, by engine kind and index name (`shared_indexes`)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.engines: dict[str, SearchEngine] = {}
        self.loaded: dict[tuple[str, str], tuple[IndexDefinition, list[dict[str, Any]]]] = {}

    def search_only(
        self, request: pytest.FixtureRequest, definition: IndexDefinition, docs: Sequence[dict[str, Any]]
    ) -> SearchEngine:
        """The index `definition` holding `docs`, on the engine kind `request.param`, behind `SearchOnly`.
        Two corpora may not share an index name (the second would find the first's documents)."""
        kind: str = request.param
        engine = self.engines.get(kind) or self._engine(request, kind)
        known = self.loaded.get((kind, definition.name))
        if known is None:
            engine.ensure_index(definition)
            engine.upsert(definition.name, docs)
            self.loaded[(kind, definition.name)] = (definition, list(docs))
        elif known != (definition, list(docs)):
            raise AssertionError(f"two shared corpora named {definition.name!r}: give one another name")
        return SearchOnly(engine)  # type: ignore[return-value]

    def _engine(self, request: pytest.FixtureRequest, kind: str) -> SearchEngine:
        engine: SearchEngine
        if kind == "tantivy":
            engine = TantivyEngine(self.tmp_path_factory.mktemp("shared-index") / "search")
        else:
            server: MeiliServer = request.getfixturevalue("meili_server")
            engine = MeilisearchEngine(server.url, server.api_key, index_prefix=f"s{secrets.token_hex(4)}_")
        self.engines[kind] = engine
        return engine

    def close(self) -> None:
        for kind, name in self.loaded:
            if kind == "meilisearch":
                self.engines[kind].drop(name)
        for engine in self.engines.values():
            engine.close()


@pytest.fixture(scope="session")
def shared_indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedIndexes]:
    shared = SharedIndexes(tmp_path_factory)
    yield shared
    shared.close()


@pytest.fixture
def unreachable_engine(request: pytest.FixtureRequest, engine: SearchEngine, tmp_path: Path) -> SearchEngine:
    """An engine of the same kind whose backend cannot be reached."""
    if isinstance(engine, TantivyEngine):
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("a file where the index directory should be")
        return TantivyEngine(blocker / "search")
    # A port that was free a moment ago: nothing listens there.
    return MeilisearchEngine(f"http://127.0.0.1:{_free_port()}", "key", request_timeout_s=2, write_timeout_s=2)
