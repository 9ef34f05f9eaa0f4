"""Fixtures of the co-creation suite: one database per module, built from the identity world (a token per
role minted once), with the challenges and proposals a module's read cells share behind a ReadOnlyGuard."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.audit import service as audit
from app.auth.principal import ANONYMOUS
from app.challenges.models import (
    Challenge,
    ChallengeCriterion,
    ChallengeKpi,
    ChallengeStatus,
    Comment,
    Disclosure,
    Proposal,
    ProposalStatus,
)
from app.identity.models import Role
from app.kpis.models import Kpi
from app.main import create_app
from app.solutions.models import ListingStatus, Maturity, PriceModel, Solution
from tests.conftest import DatabaseFactory, ReadOnlyGuard, TestDatabase
from tests.identity.conftest import BASE_URL, ROLES, World, mint_user_token

# A word only proposal texts contain: whatever a caller may not read must never show it.
SECRET = "zanzibarquokka"


@dataclass(frozen=True)
class Bid:
    id: int
    challenge_id: int
    city: str  # "a" or "b": whose challenge
    vendor: str  # "a" or "b": whose proposal
    state: str  # "open" or the disclosure of the awarded challenge
    won: bool


@dataclass
class Module:
    client: TestClient
    engine: Engine
    world: World
    tokens: dict[Role, str]
    bids: list[Bid]
    challenges: dict[tuple[str, str], int]  # (city, state) -> challenge id


STATES = ("open", *(d.value for d in Disclosure))


def _listing(session: Session, world: World, vendor: str) -> int:
    listing = Solution(
        vendor_id=world.vendor[vendor],
        slug=f"cocreate-listing-{vendor}",
        title=f"Co-creation listing of vendor {vendor}",
        maturity=Maturity.pilot,
        price_model=PriceModel.licence,
        status=ListingStatus.published,
    )
    session.add(listing)
    session.flush()
    return listing.id or 0


def build_bids(engine: Engine, world: World) -> tuple[list[Bid], dict[tuple[str, str], int]]:
    """For each city (a, b) and state (open; awarded with each disclosure): a challenge with a proposal of
    vendor a and one of vendor b. In city a's awarded challenges vendor a won; in city b's, vendor b."""
    bids: list[Bid] = []
    challenges: dict[tuple[str, str], int] = {}
    with Session(engine, expire_on_commit=False) as session:
        kpi = session.exec(select(Kpi).where(Kpi.slug == "EN-EN-AQ-1C")).one()
        listings = {v: _listing(session, world, v) for v in ("a", "b")}
        for city in ("a", "b"):
            for state in STATES:
                awarded = state != "open"
                challenge = Challenge(
                    city_id=world.city[city],
                    title=f"Co-creation {city} {state}",
                    deadline=date.today() + timedelta(days=30),
                    status=ChallengeStatus.awarded if awarded else ChallengeStatus.open,
                    disclosure=Disclosure(state) if awarded else Disclosure.winner_summary,
                    budget_min=1000,
                    budget_max=5000,
                    currency="EUR",
                )
                session.add(challenge)
                session.flush()
                session.add(ChallengeKpi(challenge_id=challenge.id or 0, kpi_id=kpi.id or 0))
                session.add(ChallengeCriterion(challenge_id=challenge.id or 0, name="Impact", weight=100))
                challenges[(city, state)] = challenge.id or 0
                for vendor in ("a", "b"):
                    won = awarded and vendor == city
                    status = (
                        ProposalStatus.accepted
                        if won
                        else (ProposalStatus.declined if awarded else ProposalStatus.submitted)
                    )
                    proposal = Proposal(
                        challenge_id=challenge.id or 0,
                        vendor_id=world.vendor[vendor],
                        solution_id=listings[vendor],
                        text=f"Our price and method, {SECRET} {city}{vendor}{state}",
                        summary=f"Summary of vendor {vendor} for {city} {state}",
                        status=status,
                    )
                    session.add(proposal)
                    session.flush()
                    if won:
                        challenge.awarded_proposal_id = proposal.id
                        session.add(challenge)
                    session.add(Comment(proposal_id=proposal.id, author_label="x", body=f"A thread about {SECRET}"))
                    changes = {"text": proposal.text}
                    audit.record(session, ANONYMOUS, "proposal.create", "proposal", proposal.id or 0, changes)
                    bids.append(Bid(proposal.id or 0, challenge.id or 0, city, vendor, state, won))
        session.commit()
    return bids, challenges


ModuleFactory = Callable[[], Module]


@pytest.fixture(scope="module")
def cocreate(databases: DatabaseFactory, world_template: tuple[TestDatabase, World]) -> Iterator[Module]:
    template, world = world_template
    database = databases.copy(template)
    engine = database.engine()
    app = create_app(database.settings(), engine=engine)
    tokens = {role: mint_user_token(app, engine, world, role) for role in ROLES}
    bids, challenges = build_bids(engine, world)
    guard = ReadOnlyGuard(engine, "cocreate matrix")
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            yield Module(client, engine, world, tokens, bids, challenges)
    finally:
        guard.detach()
        engine.dispose()
        databases.release(database)
