"""u4ssc-match/3 through the API: need first (Smogtown), the unmeasured list, effects learned from outcomes,
twins with something to work on, and saved /2 runs read back as stored."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.auth.principal import Scope
from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution, ContentStatus
from app.core.config import MatchingSettings
from app.identity.models import OrganisationKind, Role
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
)
from tests.api.conftest import acting_as, gql
from tests.conftest import TestDatabase
from tests.matches.conftest import assert_relevance_adds_up, assert_twin_adds_up, city_id, official_of, real_user

AIR = "EN: EN: AQ: 1C"
WATER_LOSS = "EC: I: WS: 3C"
SMOGTOWN = [  # (KPI, data point, value): WHO 5, 15, 10 ug/m3; water loss benchmark 10 %
    (AIR, "PM2.5", 40.0),
    (AIR, "PM10", 70.0),
    (AIR, "NO2", 55.0),
    (WATER_LOSS, "", 8.0),
    ("EC: ICT: ICT: 2C", "", 100.0),  # fixed broadband: at target
    ("SC: EH: ED: 2C", "", 100.0),  # school enrolment (completion): at target
]


def _smogtown(client: TestClient, engine: Engine) -> int:
    """A new Norwegian city created as a new user would: the API, not the seeds."""
    onboarding = real_user(
        engine, "admin@smogtown.test", OrganisationKind.platform, None, Role.admin, Scope.admin, Scope.cities_write
    )
    with acting_as(client, onboarding):
        made = client.post(
            "/api/v1/cities",
            json={
                "name": "Smogtown",
                "country": "NO",
                "population": 120_000,
                "population_year": 2024,
                "climate": "Cfb",
                "data_public": True,
            },
        )
        assert made.status_code == 201, made.text
        smogtown = int(made.json()["id"])
        values = [
            {"kpi": k, "data_point": d, "year": 2024, "value": v, "data_quality": "measured", "source": "test"}
            for k, d, v in SMOGTOWN
        ]
        put = client.put(f"/api/v1/cities/{smogtown}/kpi-values", json={"values": values})
        assert put.status_code == 200, put.text
    return smogtown


def _matches(client: TestClient, city: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/cities/{city}/solution-matches", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _addresses_air(item: dict[str, Any]) -> bool:
    return any(k["code"] == AIR and (k["gap"] or 0) > 0 for k in item["reasons"]["kpis"])


def test_smogtown_gets_air_quality_first(client: TestClient, engine: Engine, db: TestDatabase) -> None:
    """The issue's case: only air quality is short of its benchmark; every listing ranked addresses it."""
    smogtown = _smogtown(client, engine)
    country = _matches(client, smogtown, limit=20)
    assert country["method_version"] == "u4ssc-match/3"
    assert country["items"], country
    assert country["items"][0]["solution"]["title"] == "Charging for municipal fleets and taxis"
    assert all(_addresses_air(i) for i in country["items"])
    everywhere = _matches(client, smogtown, limit=20, scope="all")
    assert all(_addresses_air(i) for i in everywhere["items"][:3])
    titles = [i["solution"]["title"] for i in everywhere["items"]]
    assert any("Filter Cube" in t for t in titles[:3]), titles
    for item in country["items"] + everywhere["items"]:
        assert_relevance_adds_up(item)
        assert item["score"] > 0
    # The water listings address nothing Smogtown lacks (8 % loss is within the 10 % benchmark): not ranked,
    # whatever their evidence from similar cities. u4ssc-match/2 put them first on that evidence alone.
    water = {"Smart water meters with leak and backflow alarms", "Acoustic leak detection for water mains"}
    assert not water & set(titles)
    v2 = db.settings(matching=MatchingSettings(method_version="u4ssc-match/2"))
    with TestClient(create_app(v2, engine=engine)) as old:
        first = _matches(old, smogtown, limit=4)["items"]
    assert {i["solution"]["title"] for i in first} & water
    assert first[0]["reasons"]["kpi_term"] == 0.0


def test_unmeasured_listings_are_a_separate_labelled_answer(read_client: TestClient, engine: Engine) -> None:
    karmoy = city_id(engine, "karmoy")
    plain = _matches(read_client, karmoy, limit=50, scope="all")
    assert plain["unmeasured"] is None  # only when asked
    assert all(i["score"] > 0 for i in plain["items"])  # no padding with zeros
    body = _matches(read_client, karmoy, limit=50, scope="all", include="unmeasured")
    assert body["items"] == plain["items"]
    unmeasured = body["unmeasured"]
    assert unmeasured
    ranked = {i["solution"]["id"] for i in body["items"]}
    card = read_client.get(f"/api/v1/cities/{karmoy}/scorecard").json()
    reported = {v["code"] for v in card["kpis"] if v["gap"] is not None}
    potentials = [u["potential"] for u in unmeasured]
    assert potentials == sorted(potentials, reverse=True)
    for u in unmeasured:
        assert u["solution"]["id"] not in ranked
        assert u["kpis"]
        assert all(k["code"] not in reported or k["data_point"] for k in u["kpis"])
        assert 0 < u["potential"] <= 1
    assert len(ranked) + len(unmeasured) <= body["candidates"]
    data = gql(
        read_client,
        """query ($id: Int!) { solutionMatches(cityId: $id, limit: 50, scope: all, include: [unmeasured]) {
            items { solution { id } score } unmeasured { rank potential solution { id } kpis { code } } } }""",
        id=karmoy,
    )["solutionMatches"]
    assert [(u["solution"]["id"], u["potential"]) for u in data["unmeasured"]] == [
        (u["solution"]["id"], u["potential"]) for u in unmeasured
    ]
    assert [i["score"] for i in data["items"]] == [i["score"] for i in body["items"]]


def test_the_fjellhamn_outcomes_teach_the_water_loss_effect(read_client: TestClient, engine: Engine) -> None:
    """Fjellhamn's water loss fell from 31 % to 19.5 % (benchmark 10 %): 11.5 / 21 of the gap closed. The
    listings of the case study learn it; for Karmoy, the claims blend with it."""
    karmoy = city_id(engine, "karmoy")
    items = _matches(read_client, karmoy, limit=10)["items"]
    learned = [
        (i, k) for i in items for k in i["reasons"]["kpis"] if k["code"] == WATER_LOSS and k["estimate"]["outcomes"]
    ]
    assert learned, items
    # The outcome's data quality is that of Fjellhamn's own values: water loss 31 and 19.5 were calculated
    # (0.9, verified), the smart-meter coverage 12 and 88 measured (1.0, verified); both weighed by the
    # same similarity to Karmoy.
    meters = next(k for k in items[0]["reasons"]["kpis"] if k["code"] == "EC: ICT: WS: 1C")["estimate"]
    water = next(k for k in items[0]["reasons"]["kpis"] if k["code"] == WATER_LOSS)["estimate"]
    assert water["outcome_weight"] == pytest.approx(0.9 * meters["outcome_weight"], abs=1e-12)
    for item, k in learned:
        e = k["estimate"]
        assert e["observed_mean"] == pytest.approx(11.5 / 21, abs=1e-9)
        assert e["source"] == "blended" if e["claimed_effect"] is not None else "outcomes"
        assert e["prior_mean"] < e["estimate"] < e["observed_mean"]  # measured more than claimed: rises
        assert e["low"] <= e["estimate"] <= e["high"]
        assert_relevance_adds_up(item)


def _listing(session: Session, vendor: int, slug: str, effect: float, kpi: int) -> int:
    listing = Solution(
        vendor_id=vendor,
        slug=slug,
        title=slug,
        maturity=Maturity.pilot,
        price_model=PriceModel.licence,
        status=ListingStatus.published,
    )
    session.add(listing)
    session.flush()
    sid = listing.id or 0
    session.add(SolutionCountry(solution_id=sid, country_code="NO"))
    session.add(SolutionCategory(solution_id=sid, category="Test Water"))
    session.add(
        SolutionKpiImpact(solution_id=sid, kpi_id=kpi, expected_effect=effect, evidence_level=EvidenceLevel.piloted)
    )
    return sid


def test_outcomes_that_contradict_a_claim_lower_it_and_confirming_ones_raise_it(
    client: TestClient, engine: Engine
) -> None:
    """Two listings claim 60 % of the water-loss gap (piloted). A case study in Stavanger measured 5 % for one
    and 60 % for the other: the first falls below its claim's prior, the second rises above it, and a third
    listing of the same category without outcomes borrows the pooled ones."""
    karmoy, stavanger = city_id(engine, "karmoy"), city_id(engine, "stavanger")
    with Session(engine) as session:
        vendor = session.execute(sa.text("SELECT min(id) FROM vendor")).scalar_one()
        kpi = session.execute(sa.text("SELECT id FROM kpi WHERE code = :c"), {"c": WATER_LOSS}).scalar_one()
        ids = {name: _listing(session, vendor, f"learn-{name}", 0.6, kpi) for name in ("low", "high", "none")}
        for name, after in (("low", 40.0 - 0.05 * 30), ("high", 40.0 - 0.6 * 30)):
            study = CaseStudy(
                slug=f"learn-{name}", title=name, city_id=stavanger, status=ContentStatus.published, year=2024
            )
            session.add(study)
            session.flush()
            session.add(CaseStudySolution(case_study_id=study.id or 0, solution_id=ids[name]))
            session.add(
                CaseStudyOutcome(
                    case_study_id=study.id or 0,
                    kpi_id=kpi,
                    value_before=40.0,
                    value_after=after,
                    year_before=2020,
                    year_after=2023,
                )
            )
        session.commit()
    items = {i["solution"]["id"]: i for i in _matches(client, karmoy, limit=100)["items"]}
    reason = {n: next(k for k in items[i]["reasons"]["kpis"] if k["code"] == WATER_LOSS) for n, i in ids.items()}
    prior = 0.6 * 0.7
    low, high, pooled = (reason[n]["estimate"] for n in ("low", "high", "none"))
    assert low["observed_mean"] == pytest.approx(0.05)
    assert high["observed_mean"] == pytest.approx(0.6)
    assert low["estimate"] < prior < high["estimate"] < 0.6
    assert (low["source"], high["source"], pooled["source"]) == ("blended", "blended", "blended")
    assert pooled["pooled"]
    assert pooled["outcomes"] == 2
    assert pooled["observed_mean"] == pytest.approx((0.05 + 0.6) / 2)
    assert items[ids["low"]]["score"] < items[ids["none"]]["score"] < items[ids["high"]]["score"]
    for i in ids.values():
        assert_relevance_adds_up(items[i])
    # A lead's score is the listing's score in that city's matches, with the same learned effect.
    leads = client.get(f"/api/v1/solutions/{ids['low']}/city-matches", params={"limit": 100}).json()
    lead = next(i for i in leads["items"] if i["city"]["id"] == karmoy)
    assert lead["score"] == pytest.approx(items[ids["low"]]["score"], abs=1e-12)
    assert lead["reasons"]["kpis"][0]["estimate"] == reason["low"]["estimate"]


def test_twins_have_something_to_work_on(read_client: TestClient, engine: Engine) -> None:
    for slug in ("karmoy", "stuttgart", "rotterdam"):
        body = read_client.get(f"/api/v1/cities/{city_id(engine, slug)}/twin-matches?limit=100").json()
        assert body["method_version"] == "u4ssc-match/3"
        for item in body["items"]:
            assert_twin_adds_up(item)
            assert item["complementarity"]["score"] > 0 or item["shared_challenges"]["categories"]


def test_a_saved_v2_run_reads_back_exactly_as_stored(client: TestClient, engine: Engine, db: TestDatabase) -> None:
    karmoy = city_id(engine, "karmoy")
    official = official_of(engine, karmoy)
    v2 = db.settings(matching=MatchingSettings(method_version="u4ssc-match/2"))
    with TestClient(create_app(v2, engine=engine)) as old, acting_as(old, official):
        saved = old.post(f"/api/v1/cities/{karmoy}/match-runs", json={"kind": "solutions", "limit": 10})
        assert saved.status_code == 201, saved.text
    run = saved.json()
    assert run["method_version"] == "u4ssc-match/2"
    assert run["weights"]["method_version"] == "u4ssc-match/2"
    assert len(run["ranking"]) == 10  # /2 ranks evidence alone too
    with acting_as(client, official):
        again = client.get(f"/api/v1/cities/{karmoy}/match-runs/{run['id']}").json()
        live = _matches(client, karmoy, limit=10)
        newer = client.post(f"/api/v1/cities/{karmoy}/match-runs", json={"kind": "solutions", "limit": 10}).json()
    assert again == run
    assert live["method_version"] == newer["method_version"] == "u4ssc-match/3"
    assert newer["ranking"] == live["items"] != run["ranking"]
