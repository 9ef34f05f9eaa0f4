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
    main = max((k["impact"] for k in kpis), default=0.0)
    expected_norm = math.fsum(k["kpi_weight"] * k["impact"] for k in kpis) / main if main > 0 else 0.0
    assert reasons["normaliser"] == pytest.approx(expected_norm, abs=TOL)
    for k in kpis:
        assert k["impact"] == pytest.approx(k["expected_effect"] * k["evidence_weight"], abs=TOL)
        gap = k["gap"] or 0.0
        need = gap * k["data_confidence"] * k["benchmark_confidence"]
        expected = (1 - BETA) * k["kpi_weight"] * need * k["impact"] / reasons["normaliser"]
        assert k["contribution"] == pytest.approx(expected, abs=TOL)
    counted = math.fsum(e["counted"] for e in similar["items"])
    assert counted == pytest.approx(similar["weighted_count"], abs=TOL)
    x = similar["weighted_count"]
    assert similar["contribution"] == pytest.approx(similar["weight"] * x / (x + similar["half"]), abs=TOL)
    for e in similar["items"]:
        assert e["counted"] == pytest.approx(e["similarity"] * e["weight"], abs=TOL)
        assert e["similarity"] >= DEFAULT_WEIGHTS.similar_city_min_similarity


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
