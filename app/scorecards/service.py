"""A city's scorecard: two statements after the visibility check (the framework with its benchmarks, and
the city's latest value per data point up to a year), then `app.matching.build_scorecard`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.auth.principal import Principal
from app.cities.models import KpiObservation
from app.core.config import Settings
from app.kpis.models import Kpi, KpiBenchmark, KpiDataPoint
from app.matches.schemas import CityRef
from app.matches.service import visible_city
from app.matching import RollUp, ScoreItem, build_scorecard
from app.scorecards.schemas import (
    BenchmarkOut,
    DataPointScoreOut,
    KpiScoreOut,
    MissingOut,
    RollUpOut,
    ScorecardOut,
)


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


def latest_values(session: Session, city_id: int, year: int | None) -> dict[int, Any]:
    """data point id -> (year, value, data_quality, verified) of the latest observation (up to `year`)."""
    obs = sa.inspect(KpiObservation).local_table
    ranked = sa.select(
        obs.c.data_point_id,
        obs.c.year,
        obs.c.value,
        obs.c.data_quality,
        obs.c.verified,
        sa.func.row_number().over(partition_by=obs.c.data_point_id, order_by=obs.c.year.desc()).label("rank"),
    ).where(obs.c.city_id == city_id)
    if year is not None:
        ranked = ranked.where(obs.c.year <= year)
    sub = ranked.subquery()
    rows = session.execute(
        sa.select(sub.c.data_point_id, sub.c.year, sub.c.value, sub.c.data_quality, sub.c.verified).where(
            sub.c.rank == 1
        )
    ).all()
    return {int(r[0]): r for r in rows}


def _roll_up(r: RollUp, slugs: dict[str, str]) -> RollUpOut:
    return RollUpOut(
        level=r.level,
        dimension=r.dimension,
        subdimension=r.subdimension,
        category=r.category,
        points=r.points,
        max_points=r.max_points,
        n_scored=r.n_scored,
        ratio=r.ratio,
        percent=r.percent,
        band=r.band,
        kpis=[slugs[c] for c in r.kpi_codes],
        missing_kpis=[slugs[c] for c in r.missing_kpis],
    )


def city_scorecard(
    session: Session, principal: Principal, settings: Settings, city_id: int, year: int | None = None
) -> ScorecardOut:
    """Every KPI of the framework for the city: value, benchmark, achievement, points, band, gap; the
    roll-ups per category, sub-dimension, dimension and overall; and what is missing, with the reason."""
    city = visible_city(session, principal, city_id)
    kpi, dp, bm = (sa.inspect(m).local_table for m in (Kpi, KpiDataPoint, KpiBenchmark))
    framework = session.execute(
        sa.select(
            kpi.c.id, kpi.c.slug, kpi.c.code, kpi.c.name, kpi.c.dimension, kpi.c.subdimension, kpi.c.category,
            kpi.c.tier, dp.c.id, dp.c.key, dp.c.unit, dp.c.direction, bm.c.id, bm.c.value, bm.c.value_label,
            bm.c.basis_type, bm.c.basis, bm.c.source, bm.c.is_platform_default,
        )
        .select_from(kpi.join(dp, dp.c.kpi_id == kpi.c.id).outerjoin(bm, bm.c.data_point_id == dp.c.id))
        .order_by(kpi.c.code, kpi.c.id, dp.c.position, dp.c.id)
    ).all()  # fmt: skip
    values = latest_values(session, city_id, year)

    items = []
    for r in framework:
        obs = values.get(int(r[8]))
        items.append(
            ScoreItem(
                kpi_code=r[2],
                category=r[6],
                subdimension=r[5],
                dimension=r[4],
                value=None if obs is None else float(obs[2]),
                benchmark=None if r[13] is None else float(r[13]),
                direction=_value(r[11]),
                data_point=r[9],
                quality=None if obs is None else _value(obs[3]),
                verified=False if obs is None else bool(obs[4]),
            )
        )
    card = build_scorecard(items, settings.matching.weights())

    per_kpi: dict[str, list[Any]] = {}
    for r in framework:
        per_kpi.setdefault(r[2], []).append(r)
    slugs = {r[2]: r[1] for r in framework}
    names = {r[2]: r[3] for r in framework}
    kpis = []
    for k in card.kpis:
        rows = per_kpi[k.kpi_code]
        points = []
        for r, d in zip(rows, k.data_points, strict=True):
            obs = values.get(int(r[8]))
            points.append(
                DataPointScoreOut(
                    key=d.data_point,
                    unit=r[10],
                    direction=d.direction,
                    value=d.value,
                    year=None if obs is None else int(obs[1]),
                    data_quality=d.quality,
                    verified=d.verified,
                    benchmark=None
                    if r[12] is None
                    else BenchmarkOut(
                        value=r[13],
                        value_label=r[14],
                        basis_type=_value(r[15]),
                        basis=r[16],
                        source=r[17],
                        is_platform_default=bool(r[18]),
                    ),
                    scored=d.scored,
                    pass_fail=d.pass_fail,
                    achievement=d.achievement,
                    points=d.points,
                    band=d.band,
                    gap=d.gap,
                    confidence=d.confidence,
                    missing_reason_code=None if d.missing is None else d.missing.reason_code,
                    missing_reason=None if d.missing is None else d.missing.reason,
                )
            )
        first = rows[0]
        kpis.append(
            KpiScoreOut(
                kpi=first[1],
                code=k.kpi_code,
                name=first[3],
                dimension=k.dimension,
                subdimension=k.subdimension,
                category=k.category,
                tier=_value(first[7]),
                achievement=k.achievement,
                gap=k.gap,
                points=k.points,
                band=k.band,
                confidence=k.confidence,
                n_scored=k.n_scored,
                data_points=points,
            )
        )
    missing = [
        MissingOut(
            kpi=slugs[m.kpi_code],
            code=m.kpi_code,
            name=names[m.kpi_code],
            data_point=m.data_point,
            reason_code=m.reason_code,
            reason=m.reason,
        )
        for m in card.overall.missing
    ]
    return ScorecardOut(
        city=CityRef(id=city.id or 0, slug=city.slug, name=city.name, country_code=city.country_code),
        year=year,
        method_version=card.method_version,
        kpis=kpis,
        categories=[_roll_up(r, slugs) for r in card.categories],
        subdimensions=[_roll_up(r, slugs) for r in card.subdimensions],
        dimensions=[_roll_up(r, slugs) for r in card.dimensions],
        overall=_roll_up(card.overall, slugs),
        missing=missing,
    )
