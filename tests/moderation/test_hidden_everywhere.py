"""A hidden item leaves every public read, and comes back on restore: one copy of the identity world with a
listing, a case study, a challenge with a proposal, a clarification and a comment, read through every path
(REST lists and details, GraphQL, search through the search outbox on each engine, the matching store and the
matches), with distinct real tokens. Who still sees a hidden item: its owner (a comment's or a
clarification's author, a proposal's vendor: "hidden pending review") and its moderators."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.case_studies.models import CaseStudy, CaseStudySolution, ContentStatus
from app.challenges.models import Challenge, Clarification, Comment, Proposal
from app.identity.models import Role
from app.main import create_app
from app.matches.store import data_version, store_for
from app.solutions.models import ListingStatus, Maturity, PriceModel, Solution
from search import SearchEngine, create_engine
from tests.conftest import TestDatabase
from tests.identity.conftest import BASE_URL, World, bearer, mint_user_token
from tests.identity.matrix import Scenario
from tests.identity.rows_catalogue import _listing
from tests.search.meilisearch_server import shared_server
from tests.search_app.conftest import wait_until_consistent

WORD = "moderatedxyzzy"  # a word only the hidden listing's and case study's text contain


@dataclass
class Rows:
    listing: int  # vendor a's, offered in NO: hidden
    other_listing: int  # vendor b's, not hidden: the case study is evidence for it
    case_study: int  # Karmøy's, about `other_listing`
    challenge: int  # Karmøy's, open
    proposal: int  # vendor a's, on `challenge`, of another listing of theirs
    clarification: int  # asked by the vendor member
    comment: int  # by the city official


def _seed(scenario: Scenario) -> Rows:
    world = scenario.world
    listing = _listing(scenario, "own", ListingStatus.published).id or 0
    other = _listing(scenario, "other", ListingStatus.published).id or 0  # vendor b's
    with scenario.session() as session:
        hidden = session.get(Solution, listing)
        assert hidden is not None
        hidden.description = f"A listing about {WORD}."
        proposed = Solution(
            vendor_id=world.vendor["a"],
            slug="moderated-proposed",
            title="Proposed listing",
            summary="The listing vendor a proposes.",
            maturity=Maturity.pilot,
            price_model=PriceModel.licence,
            status=ListingStatus.published,
        )
        case = CaseStudy(
            slug="moderated-everywhere",
            title=f"Case {WORD}",
            summary="A case study.",
            status=ContentStatus.published,
            city_id=world.city["a"],
            year=2024,
        )
        challenge = Challenge(city_id=world.city["a"], title="Leaks", deadline=date(2099, 1, 1))
        session.add_all([hidden, proposed, case, challenge])
        session.flush()
        session.add(CaseStudySolution(case_study_id=case.id or 0, solution_id=other))
        proposal = Proposal(
            challenge_id=challenge.id or 0,
            vendor_id=world.vendor["a"],
            solution_id=proposed.id or 0,
            text="We fix leaks.",
            submitted_by_user_id=world.actors[Role.vendor_member].user_id,
        )
        clarification = Clarification(
            challenge_id=challenge.id or 0,
            question="Which districts?",
            asked_by_user_id=world.actors[Role.vendor_member].user_id,
        )
        comment = Comment(
            challenge_id=challenge.id,
            author_user_id=world.actors[Role.city_official].user_id,
            author_label="City",
            body="Welcome.",
        )
        session.add_all([proposal, clarification, comment])
        session.flush()
        return Rows(
            listing=listing,
            other_listing=other,
            case_study=case.id or 0,
            challenge=challenge.id or 0,
            proposal=proposal.id or 0,
            clarification=clarification.id or 0,
            comment=comment.id or 0,
        )


@pytest.fixture(params=["tantivy", pytest.param("meilisearch", marks=[pytest.mark.meilisearch, pytest.mark.slow])])
def search_engine(
    request: pytest.FixtureRequest, idb: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SearchEngine]:
    """Each engine: the embedded one, and the run's Meilisearch server (indexes of this test's own prefix)."""
    if request.param == "tantivy":
        engine = create_engine("tantivy", data_dir=idb.data_dir / "search")
        yield engine
        engine.close()
        return
    import meilisearch

    server = shared_server(tmp_path_factory)
    prefix = f"t{secrets.token_hex(4)}_"
    engine = create_engine("meilisearch", url=server.url, api_key=server.api_key, index_prefix=prefix)
    yield engine
    engine.close()
    client = meilisearch.Client(server.url, server.api_key)
    for index in client.get_indexes({"limit": 1000})["results"]:
        if index.uid.startswith(prefix):
            client.delete_index(index.uid)


@pytest.fixture
def stack(idb: TestDatabase, iengine: Engine, search_engine: SearchEngine) -> Iterator[tuple[FastAPI, TestClient]]:
    """The app over this test's copy of the world, with its search engine and in-process indexer."""
    settings = idb.settings(indexer_in_process=True)
    app = create_app(settings, engine=iengine, search=search_engine)
    with TestClient(app, base_url=BASE_URL) as client:
        yield app, client


GRAPHQL = """query($challenge: Int!, $city: Int!, $q: String!) {
  solutions(first: 100) { edges { node { id } } }
  caseStudies(first: 100) { edges { node { id } } }
  challenge(id: $challenge) { clarifications { id } proposals { id } }
  comments(challenge: $challenge, first: 100) { edges { node { id } } }
  search(q: $q) { hits { type id } }
  solutionMatches(cityId: $city, include: [unmeasured]) { items { solution { id } } unmeasured { solution { id } } }
}"""


def _ids(edges: list[dict[str, Any]]) -> set[int]:
    return {e["node"]["id"] for e in edges}


class Reader:
    """Every public read path, as one caller (a token, or none)."""

    def __init__(self, api: TestClient, rows: Rows, world: World, token: str | None) -> None:
        self.api, self.rows, self.world = api, rows, world
        self.headers = bearer(token) if token else {}

    def get(self, path: str) -> Any:
        return self.api.get(path, headers=self.headers)

    def seen(self) -> dict[str, bool]:
        """Per item and path: whether the caller sees it."""
        r = self.rows
        seen: dict[str, bool] = {}
        listings = {s["id"] for s in self.get("/api/v1/solutions?limit=100").json()["items"]}
        seen["listing: REST list"] = r.listing in listings
        seen["listing: REST detail"] = self.get(f"/api/v1/solutions/{r.listing}").status_code == 200
        seen["listing: REST city matches"] = self.get(f"/api/v1/solutions/{r.listing}/city-matches").status_code == 200
        found = self.get(f"/api/v1/search?q={WORD}").json()["hits"]
        seen["listing: REST search"] = ("solution", r.listing) in {(h["type"], h["id"]) for h in found}
        seen["case study: REST search"] = ("case_study", r.case_study) in {(h["type"], h["id"]) for h in found}
        matches = self.get(f"/api/v1/cities/{self.world.city['a']}/solution-matches?include=unmeasured").json()
        ranked = {m["solution"]["id"] for m in matches["items"] + (matches.get("unmeasured") or [])}
        seen["listing: REST solution matches"] = r.listing in ranked
        cases = {c["id"] for c in self.get("/api/v1/case-studies?limit=100").json()["items"]}
        seen["case study: REST list"] = r.case_study in cases
        seen["case study: REST detail"] = self.get(f"/api/v1/case-studies/{r.case_study}").status_code == 200
        proposals = self.get(f"/api/v1/challenges/{r.challenge}/proposals")
        seen["proposal: REST list"] = r.proposal in {p["id"] for p in proposals.json()["items"]}
        seen["proposal: REST detail"] = self.get(f"/api/v1/proposals/{r.proposal}").status_code == 200
        clarifications = self.get(f"/api/v1/challenges/{r.challenge}/clarifications").json()
        seen["clarification: REST list"] = r.clarification in {c["id"] for c in clarifications}
        comments = self.get(f"/api/v1/comments?challenge={r.challenge}").json()["items"]
        seen["comment: REST list"] = r.comment in {c["id"] for c in comments}

        body = self.api.post(
            "/graphql",
            json={"query": GRAPHQL, "variables": {"challenge": r.challenge, "city": self.world.city["a"], "q": WORD}},
            headers=self.headers,
        ).json()
        assert "errors" not in body, body["errors"]
        data = body["data"]
        seen["listing: GraphQL list"] = r.listing in _ids(data["solutions"]["edges"])
        seen["case study: GraphQL list"] = r.case_study in _ids(data["caseStudies"]["edges"])
        seen["proposal: GraphQL challenge"] = r.proposal in {p["id"] for p in data["challenge"]["proposals"]}
        seen["clarification: GraphQL challenge"] = r.clarification in {
            c["id"] for c in data["challenge"]["clarifications"]
        }
        seen["comment: GraphQL list"] = r.comment in _ids(data["comments"]["edges"])
        hits = {(h["type"], h["id"]) for h in data["search"]["hits"]}
        seen["listing: GraphQL search"] = ("solution", r.listing) in hits
        seen["case study: GraphQL search"] = ("case_study", r.case_study) in hits
        matched = data["solutionMatches"]["items"] + (data["solutionMatches"]["unmeasured"] or [])
        seen["listing: GraphQL solution matches"] = r.listing in {m["solution"]["id"] for m in matched}
        for name, query, variables in (
            ("listing", "query($id: Int!) { solution(id: $id) { id } }", {"id": r.listing}),
            ("case study", "query($id: Int!) { caseStudy(id: $id) { id } }", {"id": r.case_study}),
            ("proposal", "query($id: Int!) { proposal(id: $id) { id } }", {"id": r.proposal}),
        ):
            one = self.api.post("/graphql", json={"query": query, "variables": variables}, headers=self.headers)
            seen[f"{name}: GraphQL detail"] = "errors" not in one.json()
        return seen


def _store(engine: Engine, app: FastAPI, rows: Rows) -> dict[str, Any]:
    """What the matching store holds of the hidden rows (rebuilt when its data version changed)."""
    with Session(engine) as session:
        snap = store_for(engine).snapshot(session, app.state.settings.matching, force_check=True)
        version = data_version(session)
    listing_row = snap.solution_row(rows.listing)
    assert listing_row is not None
    evidence = {
        int(ref)
        for ref, kind in zip(snap.evidence.ref_id.tolist(), snap.evidence.kind, strict=True)
        if kind == "case_study"
    }
    return {
        "listing ranked": bool(snap.sol_published[listing_row]),
        "case study evidence": rows.case_study in evidence,
        "version": version,
    }


def _moderate(api: TestClient, token: str, rows: Rows, action: str) -> None:
    for kind, object_id in (
        ("listing", rows.listing),
        ("case_study", rows.case_study),
        ("proposal", rows.proposal),
        ("clarification", rows.clarification),
        ("comment", rows.comment),
    ):
        response = api.post(
            f"/api/v1/moderation/items/{kind}/{object_id}/{action}", json={"note": "test"}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        assert response.json()["hidden"] is (action == "hide")


# Who sees what while the items are hidden (every other path: nobody but admins).
OWNERS = {
    # The proposal's vendor still sees its proposal ("hidden pending review"), the author their comment or
    # clarification; the listing's vendor its listing (but search and matches, which are public, drop it).
    Role.vendor_member: {
        "listing: REST list", "listing: REST detail", "listing: REST city matches", "listing: GraphQL list",
        "listing: GraphQL detail", "proposal: REST list", "proposal: REST detail", "proposal: GraphQL challenge",
        "proposal: GraphQL detail", "clarification: REST list", "clarification: GraphQL challenge",
    },
    Role.city_official: {"comment: REST list", "comment: GraphQL list"},
}  # fmt: skip
PUBLIC_ONLY = {
    "listing: REST search", "listing: GraphQL search", "case study: REST search", "case study: GraphQL search",
    "listing: REST solution matches", "listing: GraphQL solution matches",
}  # fmt: skip


def test_hidden_rows_leak_through_no_public_read_and_come_back_on_restore(
    stack: tuple[FastAPI, TestClient], iengine: Engine, world: World
) -> None:
    app, api = stack
    rows = _seed(Scenario(world, iengine))
    wait_until_consistent(api)
    tokens = {role: mint_user_token(app, iengine, world, role) for role in Role}
    readers = {
        "anonymous": Reader(api, rows, world, None),
        **{role.value: Reader(api, rows, world, tokens[role]) for role in Role},
    }
    before = {name: reader.seen() for name, reader in readers.items()}
    # Every path sees every row before: so that "not seen" below is the moderation's doing.
    assert all(before["admin"].values()), before["admin"]
    assert before["city_official"]["proposal: REST detail"]  # the challenge's city reads the proposal
    assert before["anonymous"]["listing: REST search"]
    assert before["anonymous"]["case study: REST search"]
    assert before["anonymous"]["listing: REST solution matches"]
    stored = _store(iengine, app, rows)
    assert stored["listing ranked"]
    assert stored["case study evidence"]

    _moderate(api, tokens[Role.admin], rows, "hide")
    wait_until_consistent(api)
    hidden = {name: reader.seen() for name, reader in readers.items()}
    for name, seen in hidden.items():
        if name == Role.admin.value:  # the admin still reads every row; search and matches are public
            expected = set(seen) - PUBLIC_ONLY
        else:
            expected = OWNERS.get(Role(name), set()) if name != "anonymous" else set()
        assert {path for path, yes in seen.items() if yes} == expected, name
    hidden_store = _store(iengine, app, rows)
    assert hidden_store["version"] != stored["version"]  # the data version sees the hidden state
    assert not hidden_store["listing ranked"]
    assert not hidden_store["case study evidence"]

    _moderate(api, tokens[Role.admin], rows, "restore")
    wait_until_consistent(api)
    assert {name: reader.seen() for name, reader in readers.items()} == before
    restored = _store(iengine, app, rows)
    assert restored["listing ranked"]
    assert restored["case study evidence"]
