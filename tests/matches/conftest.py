"""Helpers of the match and scorecard suites: ids by name, real users (audit events and match runs point at
them), observations written straight into the database, and the reasons' arithmetic checked."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.auth.principal import Membership, Principal, Scope
from app.cities.models import City, DataQuality, KpiObservation
from app.identity.models import OrganisationKind, Role
from app.identity.service import add_membership, create_user, ensure_organisation
from app.kpis.models import Kpi, KpiDataPoint
from app.matching import DEFAULT_WEIGHTS

TOL = 1e-9
BETA = DEFAULT_WEIGHTS.similar_evidence_weight


def city_id(engine: Engine, slug: str) -> int:
    with Session(engine) as session:
        city = session.exec(select(City).where(City.slug == slug)).one()
        return city.id or 0


def data_point_id(engine: Engine, code: str, key: str = "") -> int:
    with Session(engine) as session:
        dp = session.exec(
            select(KpiDataPoint).join(Kpi).where(Kpi.code == code, KpiDataPoint.key == key)  # type: ignore[arg-type]
        ).one()
        return dp.id or 0


def observe(
    engine: Engine,
    city: int,
    code: str,
    value: float,
    year: int = 2024,
    key: str = "",
    quality: DataQuality = DataQuality.measured,
    verified: bool = True,
) -> None:
    """A KPI value put into the database directly (a new year adds a row, as the time series does)."""
    dp = data_point_id(engine, code, key)
    with Session(engine) as session:
        session.add(
            KpiObservation(
                city_id=city, data_point_id=dp, year=year, value=value, data_quality=quality, verified=verified
            )
        )
        session.commit()


def real_user(
    engine: Engine, email: str, kind: OrganisationKind, target: int | None, role: Role, *scopes: Scope
) -> Principal:
    """A user that exists in the database (match runs and audit events point at it), as a Principal."""
    with Session(engine) as session:
        user = create_user(session, email=email, name=email.split("@")[0], password=None)
        organisation = ensure_organisation(session, kind, target)
        add_membership(session, user, organisation, role)
        session.commit()
        return Principal(
            subject=f"user:{user.id}",
            user_id=user.id,
            memberships=(Membership(organisation.id or 0, kind, target, role),),
            scopes=frozenset(s.value for s in scopes),
        )


def official_of(engine: Engine, city: int, email: str = "official@matches.test") -> Principal:
    return real_user(
        engine, email, OrganisationKind.city, city, Role.city_official, Scope.private_read, Scope.cities_write
    )


def assert_relevance_adds_up(item: dict[str, Any]) -> None:
    """A solution match or a lead: the parts, each recomputed from its own numbers, add up to the score."""
    reasons = item["reasons"]
    kpis = reasons["kpis"]
    parts = math.fsum(k["contribution"] for k in kpis)
    assert parts == pytest.approx(reasons["kpi_term"], abs=TOL)
    similar = reasons["similar_cities"]
    assert parts + similar["contribution"] == pytest.approx(item["score"], abs=TOL)
    # D weighs the claims: /2 their impacts, /3 their priors (claim x evidence weight), never the outcomes;
    # a /3 listing with no claim at all counts each KPI it has outcomes on as one.
    claimed = [k["impact"] if k["estimate"] is None else k["estimate"]["prior_mean"] for k in kpis]
    main = max(claimed, default=0.0)
    weighted = math.fsum(k["kpi_weight"] * i for k, i in zip(kpis, claimed, strict=True))
    expected_norm = weighted / main if main > 0 else 0.0
    if main == 0 and kpis and kpis[0]["estimate"] is not None:
        expected_norm = math.fsum(k["kpi_weight"] for k in kpis)
    assert reasons["normaliser"] == pytest.approx(expected_norm, abs=TOL)
    for k in kpis:
        estimate = k["estimate"]
        if estimate is None or estimate["source"] == "claim":  # u4ssc-match/2, or /3 with no outcome
            assert k["impact"] == pytest.approx(k["expected_effect"] * k["evidence_weight"], abs=TOL)
        if estimate is not None:
            assert_estimate_adds_up(k)
        gap = k["gap"] or 0.0
        need = gap * k["data_confidence"] * k["benchmark_confidence"]
        expected = (1 - BETA) * k["kpi_weight"] * need * k["impact"] / reasons["normaliser"]
        assert k["contribution"] == pytest.approx(expected, abs=TOL)
    counted = math.fsum(e["counted"] for e in similar["items"])
    assert counted == pytest.approx(similar["weighted_count"], abs=TOL)
    x = similar["weighted_count"]
    factor = 1.0 if similar["relevance"] is None else similar["relevance"]  # /3: a factor on the need
    assert similar["contribution"] == pytest.approx(factor * similar["weight"] * x / (x + similar["half"]), abs=TOL)
    if similar["relevance"] is not None:
        assert similar["relevance"] * (1 - BETA) == pytest.approx(reasons["kpi_term"], abs=TOL)
        assert similar["relevance"] > 0  # no need, no rank
    for e in similar["items"]:
        assert e["counted"] == pytest.approx(e["similarity"] * e["weight"], abs=TOL)
        assert e["similarity"] >= DEFAULT_WEIGHTS.similar_city_min_similarity


def assert_estimate_adds_up(k: dict[str, Any]) -> None:
    """u4ssc-match/3: the impact is the shrinkage estimate of the claim and the outcomes, recomputed here."""
    e = k["estimate"]
    assert k["impact"] == pytest.approx(e["estimate"], abs=TOL)
    n0, m0, u = e["prior_strength"], e["prior_mean"], e["outcome_weight"]
    if e["claimed_effect"] is None:
        assert (e["source"], m0, k["evidence_level"]) == ("outcomes", 0.0, "none")
    else:
        assert m0 == pytest.approx(e["claimed_effect"] * k["evidence_weight"], abs=TOL)
        assert n0 == pytest.approx(DEFAULT_WEIGHTS.outcome_prior_strength * k["evidence_weight"], abs=TOL)
    if e["outcomes"] == 0:
        assert (e["source"], e["observed_mean"], u) == ("claim", None, 0.0)
        assert e["estimate"] == pytest.approx(m0, abs=TOL)
    else:
        assert e["source"] in {"blended", "outcomes"}
        observed = e["observed_mean"] or 0.0
        assert e["estimate"] == pytest.approx((n0 * m0 + u * observed) / (n0 + u), abs=TOL)
    m = e["estimate"]
    half = DEFAULT_WEIGHTS.outcome_interval_z * math.sqrt(m * (1 - m) / (n0 + u + 1))
    assert e["low"] == pytest.approx(max(0.0, m - half), abs=TOL)
    assert e["high"] == pytest.approx(min(1.0, m + half), abs=TOL)


def assert_twin_adds_up(item: dict[str, Any]) -> None:
    comp, shared, ctx = item["complementarity"], item["shared_challenges"], item["context"]
    assert comp["contribution"] + shared["contribution"] + ctx["contribution"] == pytest.approx(item["score"], abs=TOL)
    kpi_parts = math.fsum(k["contribution"] for k in comp["partner_helps_city_kpis"] + comp["city_helps_partner_kpis"])
    if comp["partner_helps_city"] < 1 and comp["city_helps_partner"] < 1:  # no clipping at 1
        assert kpi_parts == pytest.approx(comp["contribution"], abs=TOL)
    for k in comp["partner_helps_city_kpis"] + comp["city_helps_partner_kpis"]:
        assert k["help"] == pytest.approx(k["confidence"] * (k["strong_achievement"] - k["weak_achievement"]), abs=TOL)
    assert math.fsum(c["contribution"] for c in shared["categories"]) == pytest.approx(shared["contribution"], abs=TOL)
    assert math.fsum(p["contribution"] for p in ctx["parts"]) == pytest.approx(ctx["contribution"], abs=TOL)
    assert {p["name"] for p in ctx["parts"]} == {"population", "region", "climate", "income"}
