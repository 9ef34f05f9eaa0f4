"""Match quality: do the matches answer what a city lacks? Labelled city profiles generated from the KPI
framework, ranked by u4ssc-match/2 and /3 side by side, at scope=country and scope=all.

    python -m bench.match_quality [--seed 11] [--per-category 2] [--data-dir DIR]

**Profiles** (seeded RNG, drawn from the framework, not from the demo cities): for every category the demo
catalogue has listings for whose name is a U4SSC KPI category, and for each size 4, 12 and 40, a city in a
random country where the catalogue offers listings, reporting that many scorable KPIs (a benchmark above 0
and a direction): one or two weak ones drawn from that category's KPIs (every data point between 10 % and
60 % of its benchmark), the rest drawn from the whole framework and at their benchmark, with a random
U4SSC data quality and verification, population and climate.

**Labels.** A profile's relevant listings are the published listings in scope that claim an effect on a
KPI where it is weak (on the KPI as a whole or on any of its data points).

**Metrics**, for each algorithm and scope, over the profiles whose scope holds at least k relevant listings
(so that a perfect ranking scores 100 %): precision@k = relevant listings among the first k / k, k = 1, 3;
nDCG@5 = sum over the first five of rel_i / log2(i + 1), divided by the same sum for an ideal ranking (the
profiles with at least one relevant listing). A profile with fewer results than k counts the missing ranks
as misses.

Without --data-dir, a temporary data dir is seeded (`citymarket seed`: reference and demo data). The
profiles are added to it; nothing else changes.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session

from app.cities.models import City, DataQuality, KpiObservation
from app.core.config import Environment, MatchingSettings, Settings
from app.core.db import make_engine
from app.matches.schemas import MatchScope
from app.matches.service import rank_solutions
from app.matches.store import Snapshot, build_snapshot, data_version
from bench.common import seeded_data_dir

ALGORITHMS = ("u4ssc-match/2", "u4ssc-match/3")
SCOPES = (MatchScope.country, MatchScope.all)
SIZES = (4, 12, 40)
CLIMATES = ("Cfb", "Cfa", "Dfb", "Csa", "BSk", "Aw", "Dfc", "Csb")
QUALITIES = (DataQuality.measured, DataQuality.calculated, DataQuality.estimated, DataQuality.modelled)


@dataclass(frozen=True)
class Framework:
    """The scorable data points of the seeded KPI framework."""

    kpi_ids: list[int]
    kpi_category: dict[int, str]
    points: dict[int, list[tuple[int, float, str]]]
    """KPI id -> (data point id, benchmark, direction) of each of its data points."""


@dataclass(frozen=True)
class Profile:
    slug: str
    category: str
    size: int
    country: str
    weak: frozenset[int]
    """KPI ids where the profile is weak."""


def load_framework(session: Session) -> Framework:
    rows = session.execute(
        sa.text(
            "SELECT k.id, k.category, d.id, b.value, d.direction FROM kpi k JOIN kpi_data_point d ON d.kpi_id = k.id "
            "LEFT JOIN kpi_benchmark b ON b.data_point_id = d.id ORDER BY k.code, d.position, d.id"
        )
    ).all()
    points: dict[int, list[tuple[int, float, str]]] = {}
    category: dict[int, str] = {}
    unscorable: set[int] = set()
    for kpi, cat, dp, bench, direction in rows:
        category[kpi] = str(cat)
        if bench is None or bench <= 0 or str(direction) not in ("higher_is_better", "lower_is_better"):
            unscorable.add(kpi)  # every data point must score, so that a weak KPI is weak throughout
        points.setdefault(kpi, []).append((int(dp), float(bench or 0.0), str(direction)))
    kpis = [k for k in points if k not in unscorable]
    return Framework(kpis, category, {k: points[k] for k in kpis})


def catalogue(session: Session) -> tuple[list[str], list[str]]:
    """Categories of the published listings, and the countries where any is offered."""
    cats = session.execute(
        sa.text(
            "SELECT DISTINCT c.category FROM solution_category c JOIN solution s ON s.id = c.solution_id "
            "WHERE s.status = 'published' ORDER BY c.category"
        )
    ).scalars()
    countries = session.execute(
        sa.text(
            "SELECT DISTINCT o.country_code FROM solution_country o JOIN solution s ON s.id = o.solution_id "
            "WHERE s.status = 'published' ORDER BY o.country_code"
        )
    ).scalars()
    return [str(c) for c in cats], [str(c) for c in countries]


def _value(bench: float, direction: str, achievement: float) -> float:
    return bench * achievement if direction == "higher_is_better" else bench / achievement


def make_profiles(session: Session, framework: Framework, seed: int, per_category: int) -> list[Profile]:
    """Generate the profiles and write them as cities with observations (committed)."""
    rng = np.random.default_rng(seed)
    categories, countries = catalogue(session)
    by_category: dict[str, list[int]] = {}
    for k in framework.kpi_ids:
        by_category.setdefault(framework.kpi_category[k].lower(), []).append(k)
    profiles = []
    for category in categories:
        pool = by_category.get(category.lower())
        if not pool:
            continue  # a catalogue category that is no U4SSC category (none in the demo catalogue today)
        for size in SIZES:
            for n in range(per_category):
                weak = [int(k) for k in rng.choice(pool, size=min(len(pool), int(rng.integers(1, 3))), replace=False)]
                others = [k for k in framework.kpi_ids if k not in weak]
                rest = [int(k) for k in rng.choice(others, size=size - len(weak), replace=False)]
                country = str(rng.choice(countries))
                slug = f"profile-{category.lower().replace(' ', '-')}-{size}-{n}"
                city = City(
                    slug=slug,
                    name=slug,
                    country_code=country,
                    population=int(10 ** rng.uniform(4, 6.5)),
                    climate=str(rng.choice(CLIMATES)),
                    data_public=True,
                )
                session.add(city)
                session.flush()
                for k in weak + rest:
                    for dp, bench, direction in framework.points[k]:
                        achievement = rng.uniform(0.1, 0.6) if k in weak else 1.0
                        session.add(
                            KpiObservation(
                                city_id=city.id or 0,
                                data_point_id=dp,
                                year=2024,
                                value=_value(bench, direction, achievement),
                                data_quality=QUALITIES[int(rng.integers(len(QUALITIES)))],
                                verified=bool(rng.random() < 0.5),
                            )
                        )
                profiles.append(Profile(slug, category, size, country, frozenset(weak)))
    session.commit()
    return profiles


def relevant(snap: Snapshot, profile: Profile, scope: MatchScope) -> set[int]:
    """Solution rows in scope that claim an effect on a KPI where the profile is weak."""
    weak_cols = {int(np.flatnonzero(snap.kpi_ids == k)[0]) for k in profile.weak}
    claims = snap.claims
    rows = {
        int(s)
        for s, k in zip(
            np.repeat(np.arange(snap.sol_ids.shape[0]), np.diff(claims.start)), claims.kpi.tolist(), strict=True
        )
        if k in weak_cols
    }
    if scope is MatchScope.country:
        offered = snap.published_offered_in(profile.country)
        return {s for s in rows if offered[s]}
    return {s for s in rows if snap.sol_published[s]}


def ndcg(hits: list[bool], n_relevant: int, k: int = 5) -> float:
    gain = sum(1.0 / math.log2(i + 2) for i, h in enumerate(hits[:k]) if h)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_relevant)))
    return gain / ideal if ideal else 0.0


def evaluate(
    snap: Snapshot, settings: MatchingSettings, profiles: Iterable[Profile], scope: MatchScope
) -> dict[str, tuple[float, int]]:
    """(mean, number of profiles) of precision@1, precision@3 and nDCG@5."""
    p1: list[float] = []
    p3: list[float] = []
    nd: list[float] = []
    for profile in profiles:
        row = snap.city_row(int(snap.city_ids[snap.city_slug.index(profile.slug)]))
        assert row is not None
        answer = rank_solutions(snap, row, settings, limit=5, scope=scope)
        top = [snap.solution_row(i.solution.id) for i in answer.items]
        good = relevant(snap, profile, scope)
        hits = [s in good for s in top] + [False] * 5
        if len(good) >= 1:
            p1.append(float(hits[0]))
            nd.append(ndcg(hits, len(good)))
        if len(good) >= 3:
            p3.append(sum(hits[:3]) / 3)
    return {
        "precision@1": (float(np.mean(p1)) if p1 else math.nan, len(p1)),
        "precision@3": (float(np.mean(p3)) if p3 else math.nan, len(p3)),
        "nDCG@5": (float(np.mean(nd)) if nd else math.nan, len(nd)),
    }


def run(data_dir: Path, seed: int, per_category: int) -> None:
    settings = Settings(data_dir=data_dir, env=Environment.test)
    engine = make_engine(settings)
    with Session(engine) as session:
        framework = load_framework(session)
        profiles = make_profiles(session, framework, seed, per_category)
    sizes = {s: sum(p.size == s for p in profiles) for s in SIZES}
    print(
        f"{len(profiles)} profiles (seed {seed}) over {len({p.category for p in profiles})} catalogue categories "
        f"and {len({p.country for p in profiles})} countries; reporting 4/12/40 KPIs: "
        f"{sizes[4]}/{sizes[12]}/{sizes[40]}; weak KPIs per profile: 1-2, the rest at target"
    )
    print()
    print(f"{'algorithm':<15} {'scope':<8} {'precision@1':>16} {'precision@3':>16} {'nDCG@5':>16}")
    for version in ALGORITHMS:
        matching = MatchingSettings(method_version=version)
        with Session(engine) as session:
            snap = build_snapshot(session, matching.weights(), matching, data_version(session))
        for scope in SCOPES:
            m = evaluate(snap, matching, profiles, scope)
            cells = [f"{100 * v:6.1f} % (n={n:3})" for v, n in m.values()]
            print(f"{version:<15} {scope.value:<8} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16}")
    print()
    print("n: profiles whose scope holds enough relevant listings (>= 1 for precision@1 and nDCG@5, >= 3 for")
    print("precision@3). Relevant: claims an effect on a KPI where the profile is weak.")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--per-category", type=int, default=2, help="profiles per category and size")
    parser.add_argument("--data-dir", type=Path, help="a seeded data dir to add the profiles to")
    args = parser.parse_args()
    if args.data_dir:
        run(args.data_dir.resolve(), args.seed, args.per_category)
        return
    with tempfile.TemporaryDirectory(prefix="wt-match-quality-") as tmp:
        seeded_data_dir(Path(tmp))
        run(Path(tmp), args.seed, args.per_category)


if __name__ == "__main__":
    main()
