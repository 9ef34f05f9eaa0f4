"""An admin's thesaurus edit reaches both engines' synonyms through the search outbox (docs/architecture.md §6,
"Thesaurus edits"): a new term finds a listing it did not find before, a removed one no longer does, and an
edit made while the engine is down is applied once it is back (the outbox retries).

Cheap on purpose: the seeds' outbox rows are set aside, so the index holds one real listing (its document as
the indexer builds it) and the drains apply only the thesaurus's rows."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.auth.principal import ROLE_SCOPES, Membership, Principal
from app.identity.models import OrganisationKind, Role
from app.search_index import thesaurus_service
from app.search_index.documents import BUILDERS
from app.search_index.indexer import apply_batch, drain, ensure_current_indexes
from app.search_index.indexes import DEFINITIONS, SOLUTIONS
from search import SearchEngine, SearchQuery
from search.meili_engine import MeilisearchEngine
from search.tantivy_engine import TantivyEngine
from tests.search.conftest import _drop_prefixed
from tests.search.meilisearch_server import _free_port, shared_server

ADMIN = Principal(
    subject="user:thesaurus-admin",
    memberships=(Membership(organisation_id=0, kind=OrganisationKind.platform, target_id=None, role=Role.admin),),
    scopes=ROLE_SCOPES[Role.admin],
)
LISTING = "Acoustic leak detection for water mains"  # seeds/data/demo/solutions.yaml
NEW_TERM = "Rohrbruchortung"  # German: locating pipe bursts; in no seeded text


@pytest.fixture(params=["tantivy", pytest.param("meilisearch", marks=pytest.mark.meilisearch)])
def search(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchEngine]:
    """An engine of its own: tantivy in the test's directory, or indexes of their own on the run's shared
    Meilisearch (tests/search/meilisearch_server.py), dropped afterwards."""
    if request.param == "tantivy":
        engine: SearchEngine = TantivyEngine(tmp_path / "search")
        yield engine
        engine.close()
        return
    server = shared_server(request.getfixturevalue("tmp_path_factory"))
    prefix = f"th{secrets.token_hex(4)}_"
    engine = MeilisearchEngine(server.url, server.api_key, index_prefix=prefix)
    yield engine
    engine.close()
    _drop_prefixed(server, prefix)


def _unreachable(search: SearchEngine, tmp_path: Path) -> SearchEngine:
    """An engine of the same kind whose backend cannot be reached (as tests/search/conftest.py makes one)."""
    if isinstance(search, TantivyEngine):
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("a file where the index directory should be")
        return TantivyEngine(blocker / "search")
    return MeilisearchEngine(f"http://127.0.0.1:{_free_port()}", "key", request_timeout_s=2, write_timeout_s=2)


def _one_listing_indexed(db: Engine, search: SearchEngine) -> None:
    with Session(db) as session:
        session.execute(sa.text("UPDATE search_outbox SET processed_at = CURRENT_TIMESTAMP"))  # the seeds' rows
        session.commit()
        listing = session.execute(sa.text("SELECT id FROM solution WHERE title = :t"), {"t": LISTING}).scalar_one()
        documents = BUILDERS[SOLUTIONS](session, [listing])
    assert len(documents) == 1  # published: searchable
    ensure_current_indexes(db, search)
    search.upsert(SOLUTIONS, documents)


def _titles(search: SearchEngine, q: str) -> list[str]:
    return [hit.document["title"] for hit in search.search(SOLUTIONS, SearchQuery(q=q)).hits]


def _edit(db: Engine, add: bool) -> None:
    with Session(db) as session:
        if add:
            thesaurus_service.add_term(session, ADMIN, "water-loss", "de", NEW_TERM)
        else:
            thesaurus_service.remove_term(session, ADMIN, "water-loss", "de", NEW_TERM)
        session.commit()


def _pending(db: Engine) -> int:
    with Session(db) as session:
        return int(session.execute(sa.text("SELECT count(*) FROM search_outbox WHERE processed_at IS NULL")).scalar())


def test_an_added_term_finds_and_a_removed_one_no_longer_does(
    engine: Engine, search: SearchEngine, tmp_path: Path
) -> None:
    _one_listing_indexed(engine, search)
    assert _titles(search, "leak detection") == [LISTING]
    assert _titles(search, NEW_TERM) == []

    # Added while the engine is down: the row stays pending, and is applied once the engine answers.
    _edit(engine, add=True)
    down = _unreachable(search, tmp_path)
    assert apply_batch(engine, down).failed == 1
    assert _pending(engine) == 1
    assert _titles(search, NEW_TERM) == []
    with Session(engine) as session:  # its back-off over (the clock is not the test's subject)
        session.execute(sa.text("UPDATE search_outbox SET next_attempt_at = NULL"))
        session.commit()
    assert drain(engine, search) == 1
    assert _titles(search, NEW_TERM) == [LISTING]

    _edit(engine, add=False)
    assert drain(engine, search) == 1
    assert _titles(search, NEW_TERM) == []
    assert _titles(search, "leak detection") == [LISTING]


def test_the_seeded_database_gives_the_engines_the_seed_files_synonyms(engine: Engine) -> None:
    """The migration's seed is the initial data: until an edit, the engines get what the file said (so neither
    the indexes' settings nor the search bench's thesaurus expansion change)."""
    with Session(engine) as session:
        current = thesaurus_service.current_definitions(session)
    assert set(current) == set(DEFINITIONS)
    for name, definition in DEFINITIONS.items():
        assert current[name] == definition, name
    assert current[SOLUTIONS].synonyms["wasserverlust"]  # the thesaurus is in it, not only the built-in groups
