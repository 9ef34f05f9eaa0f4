"""Fixtures for the catalogue read API: a seeded database of its own, with a few unpublished rows added
(drafts, a draft case study and guideline, a hub entry and a proposal for a draft listing) so that every
visibility rule has something to hide, whatever the demo seed contains."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from app.auth.deps import get_principal
from app.auth.principal import Membership, Principal, Scope
from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution, ContentStatus
from app.challenges.models import Challenge, Comment, Proposal
from app.core.db import unit_of_work
from app.guidelines.models import GuidelineKpi, ProcurementGuideline, ProcurementStage
from app.hubs.models import CatalogueStatus, Hub, HubCatalogueEntry
from app.identity.models import OrganisationKind, Role
from app.kpis.models import Kpi
from app.main import create_app
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Maturity,
    PriceModel,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionKpiImpact,
    SolutionLanguage,
    SolutionSdg,
)
from app.vendors.models import Vendor, VendorSize
from tests.conftest import DatabaseFactory, TestDatabase, guarded_engine

PROBLEM = "application/problem+json"
DRAFT_VENDOR_SLUG = "apitest-drafts"


def _add_unpublished_rows(session: Session) -> None:
    air = session.exec(select(Kpi).where(Kpi.slug == "EN-EN-AQ-1C")).one()
    hub = session.exec(select(Hub).order_by(Hub.id)).first()  # type: ignore[arg-type]
    case = session.exec(
        select(CaseStudy).where(CaseStudy.status == ContentStatus.published).order_by(CaseStudy.id)  # type: ignore[arg-type]
    ).first()
    challenge = session.exec(select(Challenge).order_by(Challenge.id)).first()  # type: ignore[arg-type]
    assert hub is not None, "the demo seed has hubs"
    assert case is not None, "the demo seed has published case studies"
    assert challenge is not None, "the demo seed has challenges"
    vendor = Vendor(slug=DRAFT_VENDOR_SLUG, name="Apitest Drafts AB", country_code="SE", size=VendorSize.micro)
    session.add(vendor)
    session.flush()
    listings = []
    for status in (ListingStatus.draft, ListingStatus.submitted):
        listing = Solution(
            vendor_id=vendor.id or 0,
            slug=f"apitest-{status.value}",
            title=f"Apitest {status.value} air listing",
            maturity=Maturity.pilot,
            price_model=PriceModel.licence,
            status=status,
            is_demo=True,
        )
        session.add(listing)
        session.flush()
        sid = listing.id or 0
        session.add_all(
            [
                SolutionCategory(solution_id=sid, category="Air Quality"),
                SolutionCountry(solution_id=sid, country_code="SE"),
                SolutionLanguage(solution_id=sid, language="sv"),
                SolutionSdg(solution_id=sid, sdg=11),
                SolutionKpiImpact(
                    solution_id=sid, kpi_id=air.id or 0, expected_effect=0.2, evidence_level=EvidenceLevel.verified
                ),
            ]
        )
        listings.append(listing)
    draft = listings[0]
    decided = datetime(2026, 1, 2, tzinfo=UTC)
    session.add(
        HubCatalogueEntry(
            hub_id=hub.id or 0, solution_id=draft.id or 0, status=CatalogueStatus.featured, decided_at=decided
        )
    )
    session.add(CaseStudySolution(case_study_id=case.id or 0, solution_id=draft.id or 0))
    draft_case = CaseStudy(
        slug="apitest-draft-case",
        title="Apitest draft case",
        city_id=case.city_id,
        year=2020,
        status=ContentStatus.draft,
    )
    session.add(draft_case)
    session.flush()
    session.add(CaseStudyOutcome(case_study_id=draft_case.id or 0, kpi_id=air.id or 0, value_before=30, value_after=20))
    guideline = ProcurementGuideline(
        slug="apitest-draft-guideline", title="Apitest draft guideline", stage=ProcurementStage.evaluation
    )
    session.add(guideline)
    session.flush()
    session.add(GuidelineKpi(guideline_id=guideline.id or 0, kpi_id=air.id or 0))
    proposal = Proposal(challenge_id=challenge.id or 0, vendor_id=vendor.id or 0, solution_id=draft.id or 0, text="x")
    session.add(proposal)
    session.flush()
    session.add(Comment(proposal_id=proposal.id, body="On a hidden proposal", author_label="Apitest"))


@pytest.fixture(scope="session")
def api_db(databases: DatabaseFactory, seeded_template: TestDatabase) -> TestDatabase:
    db = databases.copy(seeded_template, keep=True)
    engine = db.engine()
    with unit_of_work(engine) as session:
        _add_unpublished_rows(session)
    engine.dispose()
    return db


@pytest.fixture(scope="session")
def api_engine(api_db: TestDatabase) -> Iterator[Engine]:
    """Shared by every test of the suite: guarded, so that a test that writes fails."""
    engine = guarded_engine(api_db, "api_db")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def api(api_db: TestDatabase, api_engine: Engine) -> Iterator[TestClient]:
    """The app over that database; tests must not write."""
    app = create_app(api_db.settings(), engine=api_engine)
    with TestClient(app) as client:
        yield client


@dataclass
class Data:
    """Every row of the tables under test, read once: expectations are computed from these in Python,
    independently of the services' SQL."""

    tables: dict[str, list[dict[str, Any]]]

    def __call__(self, table: str) -> list[dict[str, Any]]:
        return self.tables[table]

    def by_id(self, table: str) -> dict[int, dict[str, Any]]:
        return {r["id"]: r for r in self.tables[table]}

    def grouped(self, table: str, key: str, value: str) -> dict[Any, set[Any]]:
        groups: dict[Any, set[Any]] = defaultdict(set)
        for row in self.tables[table]:
            groups[row[key]].add(row[value])
        return groups

    def kpi_id(self, slug: str) -> int:
        return next(k["id"] for k in self.tables["kpi"] if k["slug"] == slug)

    @property
    def published_solutions(self) -> dict[int, dict[str, Any]]:
        return {s["id"]: s for s in self.tables["solution"] if s["status"] == "published"}

    @property
    def draft_vendor_id(self) -> int:
        return next(v["id"] for v in self.tables["vendor"] if v["slug"] == DRAFT_VENDOR_SLUG)


@pytest.fixture(scope="session")
def data(api_db: TestDatabase, api_engine: Engine) -> Data:
    with api_engine.connect() as connection:
        return Data(
            {
                name: [dict(r) for r in connection.execute(sa.select(table)).mappings().all()]
                for name, table in SQLModel.metadata.tables.items()
            }
        )


@contextmanager
def acting_as(client: TestClient, principal: Principal) -> Iterator[None]:
    """Requests (REST and GraphQL) made as `principal` (tokens are the identity issue's; this is the seam)."""
    overrides: dict[Callable[..., Any], Callable[..., Any]] = client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[get_principal] = lambda: principal
    try:
        yield
    finally:
        overrides.pop(get_principal, None)


def vendor_member(vendor_id: int) -> Principal:
    return Principal(
        subject="user:9001",
        user_id=9001,
        memberships=(Membership(1, OrganisationKind.vendor, vendor_id, Role.vendor_member),),
        scopes=frozenset({Scope.solutions_write.value}),
    )


def admin() -> Principal:
    return Principal(
        subject="user:9002",
        user_id=9002,
        memberships=(Membership(2, OrganisationKind.platform, None, Role.admin),),
        scopes=frozenset({Scope.admin.value}),
    )


def city_official(city_id: int, *scopes: Scope) -> Principal:
    return Principal(
        subject="user:9003",
        user_id=9003,
        memberships=(Membership(3, OrganisationKind.city, city_id, Role.city_official),),
        scopes=frozenset(s.value for s in scopes),
    )


def all_pages(client: TestClient, path: str, limit: int = 7, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, page by page: checks that each page states the same total, that no item
    comes twice, and that the total is the number of items."""
    items: list[dict[str, Any]] = []
    totals = set()
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        totals.add(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(body["items"]) == limit
    assert len(totals) == 1, f"the total changed between pages: {totals}"
    assert totals.pop() == len(items)
    keys = [item.get("id", repr(item)) for item in items]
    assert len(keys) == len(set(keys)), "an item came twice"
    return items


def ids(client: TestClient, path: str, **params: Any) -> list[int]:
    return [item["id"] for item in all_pages(client, path, **params)]


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def gql_errors(client: TestClient, query: str, **variables: Any) -> list[dict[str, Any]]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


def gql_all(client: TestClient, field: str, selection: str, first: int = 7, **arguments: Any) -> list[dict[str, Any]]:
    """Every node of a top-level connection, following endCursor; checks totalCount and no repeats."""
    args = "".join(f", {name}: {value}" for name, value in arguments.items())
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        query = f"""query ($after: String) {{ {field}(first: {first}, after: $after{args}) {{
            totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {selection} }} }} }} }}"""
        connection = gql(client, query, after=after)[field]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert connection["totalCount"] == len(nodes)
    return nodes


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """A problem+json answer with this status whose detail names each field (`query.limit`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    for name in fields:
        assert name in body["detail"], body
    return body
