"""The matching store: every city's KPI state and the whole catalogue as NumPy arrays, built once per
process from a handful of bulk queries and kept up to date, so that a match is arithmetic, never a query
per KPI or per candidate.

**What it holds** (`Snapshot`, immutable): the KPI axis (K columns) and the data points with their
benchmarks and directions; every city's latest value per data point (C x D), scored with the U4SSC method
into gaps and confidences per KPI (C x K) and the twin-matching `CityMatrix`; the *claim targets* (T
columns: every KPI as a whole, then every data point that an impact claim names) with the city's gap and
confidence on each (C x T: a KPI's is the mean over its data points, as U4SSC scores a KPI; a data point's
is its own); the city context (population, UN subregion, climate, income); every solution with its
`ImpactMatrix` (S x T: a claim on one data point, such as NO2, weighs that data point's gap, not the whole
KPI's), the raw claims for the reasons, where it is offered, its languages and categories, the hubs'
catalogues; the evidence rows (deployments, published case studies: city x solution); the current twinnings;
and under u4ssc-match/3 the effects learned from the case studies' outcomes (`app.matches.learned`): the
cells with outcomes of their own (blended per request with the asking city's similarity, one gather and two
bincounts), the pooled blends already in the impact matrix, and the claims' normaliser.

**How it stays fresh.** A snapshot carries the *data version* it was built from: one SQL statement that
aggregates, per relevant table, its row count, largest id, latest `updated_at`, sum of versions and a few
value sums (`fingerprint_statement`), so that inserts, deletes and updates (even a raw SQL UPDATE that
leaves `updated_at` alone) change it. The version is checked, and the snapshot rebuilt when it changed:
- by the next request after a transaction committed on this engine in this process (an engine `commit`
  event sets a flag): a process reads its own writes at once;
- every `refresh_seconds` (setting `CITYMARKET_MATCHING_REFRESH_SECONDS`, default 5) by a background thread
  of the store, so that each of several API workers sees the others' writes within that bound (plus the
  rebuild), and no request pays for the periodic check (at 10,000 cities and 100,000 solutions the
  version statement takes a few hundred milliseconds on SQLite); `refresh_seconds=0` checks on every
  request instead, without a thread;
- when forced: saving a match run, or a city or solution the snapshot does not know yet.
Requests in between run no statement at all for the matrices. A rebuild replaces the whole snapshot
(about 20 statements; seconds at 10,000 cities and 100,000 solutions, see bench/matching.py); a
deployment with frequent writes would want per-city and per-solution refreshes, which this design
allows without changing the API.

The arithmetic lives in `app.matching`; this module only loads and shapes the data.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel

import app.models  # noqa: F401  (every table in the metadata)
from app.core.config import MatchingSettings
from app.matches.learned import ClaimArrays, Learned, load_learned
from app.matching import (
    QUALITY_LEVELS,
    CityContext,
    CityMatrix,
    ImpactMatrix,
    MatchingWeights,
    OutcomeCells,
    confidence_array,
    encode_directions,
    mean_by_group,
    score_values,
    stable_hash,
)

log = structlog.get_logger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]
U64 = npt.NDArray[np.uint64]

EVIDENCE_CODES: Final = {"claimed": 0, "piloted": 1, "verified": 2}
QUALITY_CODES: Final = {name: i for i, name in enumerate(QUALITY_LEVELS)}
ACTIVE_TWINNING: Final = ("proposed", "accepted", "active")
LISTED_IN_HUB: Final = ("approved", "featured")


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


# ---------------------------------------------------------------------------------------------------------
# The data version.
# ---------------------------------------------------------------------------------------------------------


def _aggregates(name: str) -> list[sa.ColumnElement[Any]]:
    t = _table(name)
    c = t.c
    out: list[sa.ColumnElement[Any]] = [sa.func.count()]
    if "id" in c:
        out.append(sa.func.max(c.id))
    if "updated_at" in c:
        out.append(sa.func.max(c.updated_at))
    if "version" in c:
        out.append(sa.func.sum(c.version))
    published = sa.literal("published")
    extra: dict[str, Callable[[], list[sa.ColumnElement[Any]]]] = {
        # Sums over what a match reads, so that even a raw SQL UPDATE that leaves updated_at alone is seen.
        "kpi_benchmark": lambda: [sa.func.sum(sa.func.coalesce(c.value, 0))],
        "kpi_observation": lambda: [sa.func.sum(c.value), sa.func.sum(c.year)],
        "city": lambda: [
            sa.func.sum(sa.case((c.data_public == sa.true(), c.id), else_=0)),
            sa.func.sum(sa.func.coalesce(c.population, 0)),
        ],
        "solution": lambda: [sa.func.sum(sa.case((sa.cast(c.status, sa.String) == published, c.id), else_=0))],
        "solution_kpi_impact": lambda: [
            sa.func.sum(c.expected_effect),
            sa.func.sum(c.kpi_id),
            sa.func.sum(sa.func.coalesce(c.data_point_id, 0)),
        ],
        "solution_country": lambda: [sa.func.sum(c.solution_id)],
        "solution_language": lambda: [sa.func.sum(c.solution_id)],
        "solution_category": lambda: [sa.func.sum(c.solution_id)],
        "case_study": lambda: [sa.func.sum(sa.case((sa.cast(c.status, sa.String) == published, c.id), else_=0))],
        "case_study_solution": lambda: [sa.func.sum(c.solution_id), sa.func.sum(c.case_study_id)],
        "case_study_outcome": lambda: [
            sa.func.sum(c.value_before),
            sa.func.sum(c.value_after),
            sa.func.sum(sa.func.coalesce(c.year_before, 0) + sa.func.coalesce(c.year_after, 0)),
        ],
        "hub_country": lambda: [sa.func.sum(c.hub_id)],
        "twinning": lambda: [sa.func.sum(c.city_a_id + c.city_b_id)],
    }
    return out + (extra[name]() if name in extra else [])


VERSIONED_TABLES: Final = (
    "kpi",
    "kpi_data_point",
    "kpi_benchmark",
    "country",
    "city",
    "kpi_observation",
    "vendor",
    "solution",
    "solution_kpi_impact",
    "solution_country",
    "solution_language",
    "solution_category",
    "solution_deployment",
    "case_study",
    "case_study_solution",
    "case_study_outcome",
    "hub",
    "hub_country",
    "hub_catalogue_entry",
    "twinning",
)


def fingerprint_statement() -> sa.Select[Any]:
    """One statement: one aggregate row per table (a single scan each), cross-joined."""
    subqueries = [
        sa.select(*(agg.label(f"{name}_{i}") for i, agg in enumerate(_aggregates(name))))
        .select_from(_table(name))
        .subquery(f"v_{name}")
        for name in VERSIONED_TABLES
    ]
    joined: sa.FromClause = subqueries[0]
    for sub in subqueries[1:]:
        joined = joined.join(sub, sa.true())
    return sa.select(*(col for sub in subqueries for col in sub.c)).select_from(joined)


@functools.cache
def _fingerprint() -> sa.Select[Any]:
    return fingerprint_statement()


def data_version(connection: Connection | Session) -> tuple[str, ...]:
    row = connection.execute(_fingerprint()).one()
    # Float sums are rounded: a parallel aggregate may add in another order from one call to the next.
    return tuple("" if v is None else f"{v:.9g}" if isinstance(v, float) else str(v) for v in row)


# ---------------------------------------------------------------------------------------------------------
# The snapshot.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SparseImpactMatrix(ImpactMatrix):
    """The same matrix, whose product with a KPI vector runs over its non-zero cells only: a listing claims
    a few KPIs of 91 (2-3 % of the cells are non-zero), so this is several times faster than the dense
    product, with the same result up to floating-point summation order."""

    nonzero: F64 | None = None
    """values[support_rows, support_cols], in the same order."""
    nonzero_rows: Ints | None = None
    """support_rows as intp: NumPy converts int32 indices on every gather and bincount (a copy per call)."""
    nonzero_cols: Ints | None = None
    """support_cols as intp."""

    @classmethod
    def of(cls, matrix: ImpactMatrix) -> ImpactMatrix:
        if matrix.support_rows is None or matrix.support_cols is None:
            return matrix
        nonzero = np.asarray(matrix.values[matrix.support_rows, matrix.support_cols], dtype=np.float64)
        return cls(
            matrix.values,
            matrix.support_count,
            matrix.main_impact,
            matrix.claim_mass,
            matrix.support_rows,
            matrix.support_cols,
            nonzero,
            matrix.support_rows.astype(np.intp),
            matrix.support_cols.astype(np.intp),
        )

    def dot(self, vector: F64) -> F64:
        if self.nonzero is None or self.nonzero_rows is None or self.nonzero_cols is None:
            return super().dot(vector)
        weights = self.nonzero * vector[self.nonzero_cols]
        out = np.bincount(self.nonzero_rows, weights=weights, minlength=self.shape[0])
        return out.astype(np.float64, copy=False)


@dataclass(frozen=True, slots=True)
class VendorInfo:
    id: int
    slug: str
    name: str
    country_code: str
    verified: bool


@dataclass(frozen=True, slots=True)
class HubInfo:
    id: int
    slug: str
    name: str
    countries: tuple[str, ...]
    listed: Ints
    """Solution rows approved or featured in the hub's catalogue."""
    featured: frozenset[int]
    """Solution rows featured there."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """Deployments and published case studies, one row each, sorted by solution row."""

    city: Ints
    solution: Ints
    weight: F64
    kind: tuple[str, ...]
    """"deployment" or "case_study"."""
    ref_id: I64
    """Deployment or case study id."""
    title: tuple[str, ...]
    year: tuple[int | None, ...]
    start: Ints
    """(S + 1,) offsets: the rows of solution s are start[s]:start[s + 1]."""


@dataclass(frozen=True, slots=True)
class Claims:
    """Impact claims, sorted by solution row, for the reasons."""

    kpi: Ints
    target: Ints
    """Column on the claim-target axis: the KPI's own, or the data point's when the claim names one."""
    effect: F64
    level: npt.NDArray[np.int8]
    data_point: tuple[str, ...]
    case_study_id: tuple[int | None, ...]
    start: Ints

    def of(self, s: int) -> range:
        return range(int(self.start[s]), int(self.start[s + 1]))


@dataclass(frozen=True, eq=False)
class Snapshot:
    version: tuple[str, ...]
    weights: MatchingWeights
    built_seconds: float

    # The KPI axis.
    kpi_ids: I64
    kpi_slug: tuple[str, ...]
    kpi_code: tuple[str, ...]
    kpi_name: tuple[str, ...]
    kpi_category: Ints
    categories: tuple[tuple[str, str, str], ...]
    """(dimension, sub-dimension, category) of each category index."""
    kpi_scorable: Bools
    """A KPI with at least one data point that has a benchmark and a known direction."""

    # Data points.
    dp_ids: I64
    dp_kpi: Ints
    dp_key: tuple[str, ...]
    dp_benchmark: F64

    # Cities.
    city_ids: I64
    city_slug: tuple[str, ...]
    city_name: tuple[str, ...]
    city_country: tuple[str, ...]
    city_public: Bools
    city_tie: U64
    context: CityContext
    context_labels: dict[str, tuple[str | None, ...]]
    """region, climate, income labels per city (for the reasons)."""
    value: F64
    """(C, D) latest value, NaN where none."""
    year: npt.NDArray[np.int32]
    """(C, D) year of that value, 0 where none."""
    quality: npt.NDArray[np.int8]
    verified: Bools
    dp_achievement: F64
    """(C, D) achievement, NaN where not scored."""
    gaps: F64
    """(C, K) 1 - mean achievement of the scored data points, NaN where the KPI is not scored."""
    confidence: F64
    """(C, K) mean confidence of the scored data points, 0 where not scored."""
    n_scored: Ints
    cities: CityMatrix

    # The claim-target axis (T columns) that relevance runs on: targets 0..K-1 are the KPIs as a whole,
    # the rest the data points that some impact claim names.
    target_kpi: Ints
    """(T,) KPI row of each target."""
    target_dp: Ints
    """(T,) data point row of each target, -1 for a KPI as a whole."""
    target_gaps: F64
    """(C, T) the KPI's gap, or the data point's own (1 - its achievement); NaN where not scored."""
    target_confidence: F64
    """(C, T) the matching confidence: data confidence x benchmark confidence, 0 where not scored."""
    target_data_confidence: F64
    """(C, T) confidence in the city's values (quality, verification), 0 where not scored."""
    target_benchmark_confidence: F64
    """(C, T) confidence in the benchmarks the gap is measured against, 0 where not scored."""
    twinned: dict[int, frozenset[int]]
    """City row -> rows it is twinned with (proposed, accepted or active)."""

    # Solutions.
    sol_ids: I64
    sol_slug: tuple[str, ...]
    sol_title: tuple[str, ...]
    sol_vendor: I64
    sol_published: Bools
    sol_tie: U64
    vendors: dict[int, VendorInfo]
    impacts: ImpactMatrix
    """(S, T) on the claim-target axis."""
    claims: Claims
    offered: dict[str, Ints]
    """Country code -> solution rows offered there."""
    sol_countries: dict[int, tuple[str, ...]]
    languages: dict[str, Ints]
    sol_categories: dict[str, Ints]
    """Lower-cased category -> solution rows."""
    hubs: dict[int, HubInfo]
    country_hubs: dict[str, tuple[int, ...]]
    evidence: Evidence
    learned: Learned
    """u4ssc-match/3: the effects learned from outcomes (empty under /2)."""

    # Lookups.
    _city_row: dict[int, int] = field(default_factory=dict)
    _sol_row: dict[int, int] = field(default_factory=dict)

    def city_row(self, city_id: int) -> int | None:
        return self._city_row.get(city_id)

    def solution_row(self, solution_id: int) -> int | None:
        return self._sol_row.get(solution_id)

    # Derived arrays, made on first use and kept with the snapshot (once per data version, not per request).

    @functools.cached_property
    def _published_offered(self) -> dict[str, Bools]:
        return {}

    def published_offered_in(self, country: str) -> Bools:
        """Published solutions offered in `country` (read-only)."""
        mask = self._published_offered.get(country)
        if mask is None:
            mask = np.zeros(self.sol_ids.shape[0], dtype=np.bool_)
            mask[self.offered.get(country, np.zeros(0, dtype=np.intp))] = True
            mask &= self.sol_published
            mask.setflags(write=False)
            self._published_offered[country] = mask
        return mask

    @functools.cached_property
    def _evidence_offered(self) -> dict[str, tuple[Ints, Ints, F64]]:
        return {}

    def evidence_offered_in(self, country: str) -> tuple[Ints, Ints, F64]:
        """(solution, city, weight) of the evidence rows of the published listings offered in `country`
        (made once per country and snapshot)."""
        found = self._evidence_offered.get(country)
        if found is None:
            ev = self.evidence
            rows = np.flatnonzero(self.published_offered_in(country)[ev.solution])
            found = (ev.solution[rows], ev.city[rows], ev.weight[rows])
            self._evidence_offered[country] = found
        return found

    @functools.cached_property
    def _learned_offered(self) -> dict[str, tuple[OutcomeCells, Ints]]:
        return {}

    def learned_offered_in(self, country: str) -> tuple[OutcomeCells, Ints]:
        """The outcome cells of the published listings offered in `country`, and their indices in
        `learned.cells` (made once per country and snapshot, like `published_offered_in`)."""
        found = self._learned_offered.get(country)
        if found is None:
            cells = self.learned.cells
            found = cells.subset(self.published_offered_in(country)[cells.row])
            self._learned_offered[country] = found
        return found

    @functools.cached_property
    def _city_country_index(self) -> tuple[dict[str, int], Ints]:
        codes = {code: i for i, code in enumerate(sorted(set(self.city_country)))}
        return codes, np.fromiter((codes[c] for c in self.city_country), dtype=np.intp, count=len(self.city_country))

    def cities_in(self, countries: Iterable[str]) -> Bools:
        """Cities in any of `countries`."""
        codes, index = self._city_country_index
        wanted = np.zeros(len(codes), dtype=np.bool_)
        wanted[[codes[c] for c in countries if c in codes]] = True
        out: Bools = wanted[index]
        return out

    @property
    def n_kpis(self) -> int:
        return int(self.kpi_ids.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.target_kpi.shape[0])


def _index(ids: I64, values: npt.ArrayLike) -> tuple[Ints, Bools]:
    """Rows of `values` in the sorted id array `ids`, and which were found."""
    v = np.asarray(values, dtype=np.int64)
    if ids.shape[0] == 0:
        return np.zeros(v.shape, dtype=np.intp), np.zeros(v.shape, dtype=np.bool_)
    pos = np.searchsorted(ids, v).astype(np.intp)
    pos_c = np.minimum(pos, ids.shape[0] - 1)
    return pos_c, ids[pos_c] == v


def _groups(rows: Ints, keys: list[str]) -> dict[str, Ints]:
    out: dict[str, list[int]] = defaultdict(list)
    for r, k in zip(rows.tolist(), keys, strict=True):
        out[k].append(r)
    return {k: np.unique(np.asarray(v, dtype=np.intp)) for k, v in out.items()}


def _offsets(sorted_rows: Ints, n: int) -> Ints:
    return np.searchsorted(sorted_rows, np.arange(n + 1)).astype(np.intp)


def build_snapshot(
    conn: Session, weights: MatchingWeights, settings: MatchingSettings, version: tuple[str, ...]
) -> Snapshot:
    """Load everything a match needs in a fixed number of statements, and shape it into arrays."""
    started = time.perf_counter()
    t = _table

    # --- KPIs and data points ---------------------------------------------------------------------------
    kpi = t("kpi")
    kpis = conn.execute(
        sa.select(
            kpi.c.id, kpi.c.slug, kpi.c.code, kpi.c.name, kpi.c.dimension, kpi.c.subdimension, kpi.c.category
        ).order_by(kpi.c.code, kpi.c.id)
    ).all()
    kpi_ids = np.asarray([r[0] for r in kpis], dtype=np.int64)
    kpi_order = np.argsort(kpi_ids, kind="stable")  # rows stay in code order; lookups go through a sorted copy
    kpi_sorted = kpi_ids[kpi_order]
    paths = [(r[4], r[5], r[6]) for r in kpis]
    categories = tuple(dict.fromkeys(paths))
    cat_index = {p: i for i, p in enumerate(categories)}
    kpi_category = np.asarray([cat_index[p] for p in paths], dtype=np.intp)
    n_kpi = len(kpis)

    def kpi_cols(ids: list[int]) -> tuple[Ints, Bools]:
        pos, found = _index(kpi_sorted, ids)
        return (kpi_order[pos] if n_kpi else pos).astype(np.intp), found

    dp = t("kpi_data_point")
    bm = t("kpi_benchmark")
    dps = conn.execute(
        sa.select(dp.c.id, dp.c.kpi_id, dp.c.key, dp.c.direction, bm.c.value, bm.c.confidence)
        .select_from(dp.outerjoin(bm, bm.c.data_point_id == dp.c.id))
        .order_by(dp.c.id)
    ).all()
    dp_ids = np.asarray([r[0] for r in dps], dtype=np.int64)
    dp_kpi, dp_found = kpi_cols([r[1] for r in dps])
    dp_key = tuple(r[2] for r in dps)
    dp_direction = encode_directions(str(getattr(r[3], "value", r[3])) for r in dps)
    dp_benchmark = np.asarray([np.nan if r[4] is None else r[4] for r in dps], dtype=np.float64)
    dp_benchmark_confidence = np.asarray([weights.benchmark_confidence(r[5]) for r in dps], dtype=np.float64)
    scorable_dp = np.isfinite(dp_benchmark) & (dp_direction != 3) & dp_found
    kpi_scorable = np.zeros(n_kpi, dtype=np.bool_)
    kpi_scorable[dp_kpi[scorable_dp]] = True

    # --- countries and cities ---------------------------------------------------------------------------
    country = t("country")
    countries = {
        r[0]: (r[1] or r[2] or None, r[3] or None)
        for r in conn.execute(sa.select(country.c.code, country.c.subregion, country.c.region, country.c.income_group))
    }
    city = t("city")
    cities = conn.execute(
        sa.select(
            city.c.id, city.c.slug, city.c.name, city.c.country_code, city.c.population, city.c.climate,
            city.c.data_public,
        ).order_by(city.c.id)
    ).all()  # fmt: skip
    city_ids = np.asarray([r[0] for r in cities], dtype=np.int64)
    n_city = len(cities)
    region = tuple(countries.get(r[3], (None, None))[0] for r in cities)
    income = tuple(countries.get(r[3], (None, None))[1] for r in cities)
    climate = tuple((r[5] or None) for r in cities)
    context = CityContext.from_labels([r[4] for r in cities], list(region), list(climate), list(income))

    # --- latest value per city and data point (one statement) --------------------------------------------
    obs = t("kpi_observation")
    ranked = sa.select(
        obs.c.city_id,
        obs.c.data_point_id,
        obs.c.year,
        obs.c.value,
        obs.c.data_quality,
        obs.c.verified,
        sa.func.row_number()
        .over(partition_by=(obs.c.city_id, obs.c.data_point_id), order_by=obs.c.year.desc())
        .label("rank"),
    ).subquery()
    latest = conn.execute(
        sa.select(ranked.c.city_id, ranked.c.data_point_id, ranked.c.year, ranked.c.value, ranked.c.data_quality,
                  ranked.c.verified).where(ranked.c.rank == 1)
    ).all()  # fmt: skip
    n_dp = len(dps)
    value = np.full((n_city, n_dp), np.nan, dtype=np.float64)
    year = np.zeros((n_city, n_dp), dtype=np.int32)
    quality = np.full((n_city, n_dp), -1, dtype=np.int8)
    verified = np.zeros((n_city, n_dp), dtype=np.bool_)
    if latest:
        ci, cf = _index(city_ids, [r[0] for r in latest])
        di, df = _index(dp_ids, [r[1] for r in latest])
        keep = cf & df
        ci, di = ci[keep], di[keep]
        value[ci, di] = np.asarray([r[3] for r in latest], dtype=np.float64)[keep]
        year[ci, di] = np.asarray([r[2] for r in latest], dtype=np.int32)[keep]
        quality[ci, di] = np.asarray(
            [QUALITY_CODES.get(str(getattr(r[4], "value", r[4])), -1) for r in latest], dtype=np.int8
        )[keep]
        verified[ci, di] = np.asarray([bool(r[5]) for r in latest], dtype=np.bool_)[keep]

    # --- the U4SSC method, for every city at once --------------------------------------------------------
    scored = score_values(value, dp_benchmark[None, :], dp_direction[None, :])
    ok = scored.scored & dp_found[None, :]
    dp_achievement = np.where(ok, scored.achievement, np.nan)
    kpi_achievement = mean_by_group(dp_achievement, dp_kpi, n_kpi) if n_dp else np.full((n_city, n_kpi), np.nan)
    dp_conf = np.where(ok, confidence_array(quality, verified, weights), np.nan)
    kpi_conf = mean_by_group(dp_conf, dp_kpi, n_kpi) if n_dp else np.zeros((n_city, n_kpi))
    gaps = 1.0 - kpi_achievement
    confidence = np.where(np.isfinite(gaps), np.nan_to_num(kpi_conf, nan=0.0), 0.0)
    city_matrix = CityMatrix.from_arrays(gaps, confidence, kpi_category, weights)

    # --- twinnings -------------------------------------------------------------------------------------
    tw = t("twinning")
    pairs = conn.execute(sa.select(tw.c.city_a_id, tw.c.city_b_id).where(tw.c.status.in_(ACTIVE_TWINNING))).all()
    twinned: dict[int, set[int]] = defaultdict(set)
    if pairs:
        a, fa = _index(city_ids, [p[0] for p in pairs])
        b, fb = _index(city_ids, [p[1] for p in pairs])
        for x, y in zip(a[fa & fb].tolist(), b[fa & fb].tolist(), strict=True):
            twinned[x].add(y)
            twinned[y].add(x)

    # --- solutions, vendors and claims ------------------------------------------------------------------
    sol = t("solution")
    sols = conn.execute(
        sa.select(sol.c.id, sol.c.slug, sol.c.title, sol.c.vendor_id, sol.c.status).order_by(sol.c.id)
    ).all()
    sol_ids = np.asarray([r[0] for r in sols], dtype=np.int64)
    n_sol = len(sols)
    vendor = t("vendor")
    vendors = {
        r[0]: VendorInfo(r[0], r[1], r[2], r[3], bool(r[4]))
        for r in conn.execute(
            sa.select(vendor.c.id, vendor.c.slug, vendor.c.name, vendor.c.country_code, vendor.c.verified)
        )
    }
    imp = t("solution_kpi_impact")
    claim_rows = conn.execute(
        sa.select(imp.c.solution_id, imp.c.kpi_id, dp.c.key, imp.c.expected_effect, imp.c.evidence_level,
                  imp.c.case_study_id, imp.c.data_point_id)
        .select_from(imp.outerjoin(dp, dp.c.id == imp.c.data_point_id))
        .order_by(imp.c.solution_id, imp.c.kpi_id)
    ).all()  # fmt: skip
    cs_rows, cs_found = _index(sol_ids, [r[0] for r in claim_rows])
    ck_cols, ck_found = kpi_cols([r[1] for r in claim_rows])
    keep = cs_found & ck_found
    keep_idx = np.flatnonzero(keep)
    claim_sol = cs_rows[keep]
    claim_kpi = ck_cols[keep]
    claim_effect = np.asarray([float(r[3]) for r in claim_rows], dtype=np.float64)[keep]
    claim_level = np.asarray([EVIDENCE_CODES[str(getattr(r[4], "value", r[4]))] for r in claim_rows], dtype=np.int8)[
        keep
    ]
    order = np.argsort(claim_sol, kind="stable")

    # --- claim targets: a claim on one data point weighs that data point's gap -----------------------------
    # (a data point of another KPI than the claim's, which validation refuses, counts as the KPI as a whole)
    named = [claim_rows[int(i)][6] for i in keep_idx.tolist()]
    claim_dp, dp_ok = _index(dp_ids, [-1 if d is None else d for d in named])
    on_dp = dp_ok & (dp_kpi[claim_dp] == claim_kpi) if n_dp else dp_ok
    named_dps = np.unique(claim_dp[on_dp]).astype(np.intp)
    target_of_dp = np.full(n_dp, -1, dtype=np.intp)
    target_of_dp[named_dps] = n_kpi + np.arange(named_dps.shape[0], dtype=np.intp)
    claim_target = claim_kpi.astype(np.intp, copy=True)
    claim_target[on_dp] = target_of_dp[claim_dp[on_dp]]
    target_kpi = np.concatenate([np.arange(n_kpi, dtype=np.intp), dp_kpi[named_dps]]).astype(np.intp)
    target_dp = np.concatenate([np.full(n_kpi, -1, dtype=np.intp), named_dps]).astype(np.intp)
    dp_gaps = 1.0 - dp_achievement[:, named_dps]
    target_gaps = np.concatenate([gaps, dp_gaps], axis=1)
    target_data_confidence = np.concatenate(
        [confidence, np.where(np.isfinite(dp_gaps), np.nan_to_num(dp_conf[:, named_dps], nan=0.0), 0.0)], axis=1
    )
    # The need the arithmetic weighs is gap x data confidence x benchmark confidence; a KPI's benchmark
    # confidence is the mean over the data points the city is scored on (as its gap is).
    kpi_benchmark_confidence = (
        mean_by_group(np.where(ok, dp_benchmark_confidence[None, :], np.nan), dp_kpi, n_kpi)
        if n_dp
        else np.zeros((n_city, n_kpi))
    )
    target_benchmark_confidence = np.concatenate(
        [
            np.where(np.isfinite(gaps), np.nan_to_num(kpi_benchmark_confidence, nan=0.0), 0.0),
            np.where(np.isfinite(dp_gaps), dp_benchmark_confidence[named_dps][None, :], 0.0),
        ],
        axis=1,
    )
    target_confidence = target_data_confidence * target_benchmark_confidence
    prior_impacts = ImpactMatrix.from_claims(
        n_sol, int(target_kpi.shape[0]), claim_sol, claim_target, claim_effect, claim_level, weights, dtype=np.float64
    )
    claims = Claims(
        kpi=claim_kpi[order],
        target=claim_target[order],
        effect=claim_effect[order],
        level=claim_level[order],
        data_point=tuple((claim_rows[int(keep_idx[i])][2] or "") for i in order.tolist()),
        case_study_id=tuple(claim_rows[int(keep_idx[i])][5] for i in order.tolist()),
        start=_offsets(claim_sol[order], n_sol),
    )

    def by_solution(table: str, column: str, lower: bool = False) -> tuple[dict[str, Ints], dict[int, list[str]]]:
        tab = t(table)
        rows = conn.execute(sa.select(tab.c.solution_id, tab.c[column])).all()
        srow, sfound = _index(sol_ids, [r[0] for r in rows])
        keys = [(str(r[1]).lower() if lower else str(r[1])) for r, f in zip(rows, sfound.tolist(), strict=True) if f]
        per: dict[int, list[str]] = defaultdict(list)
        for s, k in zip(srow[sfound].tolist(), keys, strict=True):
            per[s].append(k)
        return _groups(srow[sfound], keys), per

    offered, per_country = by_solution("solution_country", "country_code")
    languages, _ = by_solution("solution_language", "language", lower=True)
    sol_categories, per_category = by_solution("solution_category", "category", lower=True)

    # --- impacts: the claims (u4ssc-match/2), or the effects learned from outcomes (/3) ----------------------
    learned = Learned.none()
    impacts = prior_impacts
    if weights.need_first:
        learned, base = load_learned(
            conn,
            weights,
            index=_index,
            sol_ids=sol_ids,
            city_ids=city_ids,
            kpi_cols=kpi_cols,
            dp_ids=dp_ids,
            dp_kpi=dp_kpi,
            dp_benchmark=dp_benchmark,
            dp_direction=dp_direction,
            target_of_dp=target_of_dp,
            target_kpi=target_kpi,
            claims=ClaimArrays(claim_sol, claim_target, claim_effect, claim_level),
            categories={k: sorted(set(v)) for k, v in per_category.items()},
            prior_impacts=prior_impacts,
        )
        if base is not None:
            impacts = ImpactMatrix.from_dense(base)
    impacts = SparseImpactMatrix.of(impacts)

    # --- hubs -------------------------------------------------------------------------------------------
    hub, hub_country, entry = t("hub"), t("hub_country"), t("hub_catalogue_entry")
    hub_rows = conn.execute(sa.select(hub.c.id, hub.c.slug, hub.c.name).order_by(hub.c.id)).all()
    hub_countries: dict[int, list[str]] = defaultdict(list)
    for h, code in conn.execute(sa.select(hub_country.c.hub_id, hub_country.c.country_code)).all():
        hub_countries[h].append(code)
    listed: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    entries = conn.execute(
        sa.select(entry.c.hub_id, entry.c.solution_id, entry.c.status).where(entry.c.status.in_(LISTED_IN_HUB))
    ).all()
    erow, efound = _index(sol_ids, [e[1] for e in entries])
    for e, r, f in zip(entries, erow.tolist(), efound.tolist(), strict=True):
        if f:
            listed[e[0]].append((r, str(getattr(e[2], "value", e[2])) == "featured"))
    hubs = {
        h[0]: HubInfo(
            id=h[0],
            slug=h[1],
            name=h[2],
            countries=tuple(sorted(hub_countries.get(h[0], []))),
            listed=np.unique(np.asarray([r for r, _ in listed.get(h[0], [])], dtype=np.intp)),
            featured=frozenset(r for r, f in listed.get(h[0], []) if f),
        )
        for h in hub_rows
    }
    country_hubs: dict[str, list[int]] = defaultdict(list)
    for h in hubs.values():
        for code in h.countries:
            country_hubs[code].append(h.id)

    # --- evidence: deployments and published case studies ----------------------------------------------
    dep = t("solution_deployment")
    deployments = conn.execute(
        sa.select(dep.c.id, dep.c.solution_id, dep.c.city_id, dep.c.year).order_by(dep.c.id)
    ).all()
    cs, css, out_t = t("case_study"), t("case_study_solution"), t("case_study_outcome")
    has_outcomes = sa.exists().where(out_t.c.case_study_id == cs.c.id)
    studies = conn.execute(
        sa.select(cs.c.id, css.c.solution_id, cs.c.city_id, cs.c.year, cs.c.title, has_outcomes)
        .select_from(css.join(cs, cs.c.id == css.c.case_study_id))
        .where(cs.c.status == "published", cs.c.city_id.is_not(None))
        .order_by(cs.c.id, css.c.solution_id)
    ).all()
    ev_rows = [(r[1], r[2], settings.deployment_evidence, "deployment", r[0], "", r[3]) for r in deployments] + [
        (
            r[1],
            r[2],
            settings.case_study_outcomes_evidence if r[5] else settings.case_study_evidence,
            "case_study",
            r[0],
            r[4],
            r[3],
        )
        for r in studies
    ]
    es, esf = _index(sol_ids, [r[0] for r in ev_rows])
    ec, ecf = _index(city_ids, [r[1] for r in ev_rows])
    keep_ev = np.flatnonzero(esf & ecf)
    ev_order = keep_ev[np.argsort(es[keep_ev], kind="stable")]
    ev_sol = es[ev_order]
    evidence = Evidence(
        city=ec[ev_order],
        solution=ev_sol,
        weight=np.asarray([float(ev_rows[i][2]) for i in ev_order.tolist()], dtype=np.float64),
        kind=tuple(ev_rows[i][3] for i in ev_order.tolist()),
        ref_id=np.asarray([ev_rows[i][4] for i in ev_order.tolist()], dtype=np.int64),
        title=tuple(ev_rows[i][5] for i in ev_order.tolist()),
        year=tuple(ev_rows[i][6] for i in ev_order.tolist()),
        start=_offsets(ev_sol, n_sol),
    )

    return Snapshot(
        version=version,
        weights=weights,
        built_seconds=time.perf_counter() - started,
        kpi_ids=kpi_ids,
        kpi_slug=tuple(r[1] for r in kpis),
        kpi_code=tuple(r[2] for r in kpis),
        kpi_name=tuple(r[3] for r in kpis),
        kpi_category=kpi_category,
        categories=categories,
        kpi_scorable=kpi_scorable,
        dp_ids=dp_ids,
        dp_kpi=dp_kpi,
        dp_key=dp_key,
        dp_benchmark=dp_benchmark,
        city_ids=city_ids,
        city_slug=tuple(r[1] for r in cities),
        city_name=tuple(r[2] for r in cities),
        city_country=tuple(r[3] for r in cities),
        city_public=np.asarray([bool(r[6]) for r in cities], dtype=np.bool_),
        city_tie=stable_hash(city_ids.tolist()),
        context=context,
        context_labels={"region": region, "climate": climate, "income": income},
        value=value,
        year=year,
        quality=quality,
        verified=verified,
        dp_achievement=dp_achievement,
        gaps=gaps,
        confidence=confidence,
        n_scored=np.count_nonzero(np.isfinite(gaps), axis=1).astype(np.intp),
        cities=city_matrix,
        target_kpi=target_kpi,
        target_dp=target_dp,
        target_gaps=target_gaps,
        target_confidence=target_confidence,
        target_data_confidence=target_data_confidence,
        target_benchmark_confidence=target_benchmark_confidence,
        twinned={k: frozenset(v) for k, v in twinned.items()},
        sol_ids=sol_ids,
        sol_slug=tuple(r[1] for r in sols),
        sol_title=tuple(r[2] for r in sols),
        sol_vendor=np.asarray([r[3] for r in sols], dtype=np.int64),
        sol_published=np.asarray([str(getattr(r[4], "value", r[4])) == "published" for r in sols], dtype=np.bool_),
        sol_tie=stable_hash(sol_ids.tolist()),
        vendors=vendors,
        impacts=impacts,
        claims=claims,
        offered=offered,
        sol_countries={k: tuple(sorted(v)) for k, v in per_country.items()},
        languages=languages,
        sol_categories=sol_categories,
        hubs=hubs,
        country_hubs={k: tuple(v) for k, v in country_hubs.items()},
        evidence=evidence,
        learned=learned,
        _city_row={int(c): i for i, c in enumerate(city_ids.tolist())},
        _sol_row={int(s): i for i, s in enumerate(sol_ids.tolist())},
    )


# ---------------------------------------------------------------------------------------------------------
# The process-wide store.
# ---------------------------------------------------------------------------------------------------------


class MatchStore:
    """One per engine and process. Thread-safe: a snapshot is immutable and swapped whole.

    The periodic check runs in a background thread (one per store, started by the first request, ended
    after `IDLE_SECONDS` without a request or when the engine is gone), so that no request pays for it; a
    request checks by itself only after a commit in this process, when forced, or with
    `refresh_seconds=0` (check on every request)."""

    IDLE_SECONDS: Final = 300.0

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._used_at = time.monotonic()
        self._dirty = True
        self._settings: MatchingSettings | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.builds = 0
        self.checks = 0
        self._weights_memo: tuple[tuple[Any, ...], MatchingWeights] | None = None

    def mark_dirty(self, *_args: Any) -> None:
        """Something committed in this process: check the data version on the next request."""
        self._dirty = True

    def snapshot(
        self,
        session: Session,
        settings: MatchingSettings,
        *,
        force_check: bool = False,
        city_id: int | None = None,
        solution_id: int | None = None,
    ) -> Snapshot:
        """The current snapshot, checked against the data version when due (see the module docstring).
        Naming a city or solution the snapshot lacks (created by another process since) forces a check."""
        weights = self._weights(settings)
        self._settings = settings
        self._used_at = time.monotonic()
        snap = self._snapshot
        background = settings.refresh_seconds > 0 and self._ensure_refresher(settings.refresh_seconds)
        due = (
            snap is None
            or force_check
            or self._dirty
            or snap.weights != weights
            or (not background and time.monotonic() - self._checked_at >= settings.refresh_seconds)
            or (city_id is not None and snap.city_row(city_id) is None)
            or (solution_id is not None and snap.solution_row(solution_id) is None)
        )
        if not due:
            assert snap is not None
            return snap
        return self.refresh(session, settings)

    def _weights(self, settings: MatchingSettings) -> MatchingWeights:
        """settings.weights(), kept while the settings hold the same values: building and validating the
        weights costs more than the rest of a request's check that the snapshot is fresh."""
        values = tuple(settings.__dict__.values())  # scalars, compared by value
        memo = self._weights_memo
        if memo is None or memo[0] != values:
            memo = self._weights_memo = (values, settings.weights())
        return memo[1]

    def refresh(self, session: Session, settings: MatchingSettings) -> Snapshot:
        """Check the data version now; rebuild when it changed."""
        weights = settings.weights()
        with self._lock:
            snap = self._snapshot
            self._dirty = False
            checked = time.monotonic()
            version = data_version(session)
            self.checks += 1
            if snap is None or snap.version != version or snap.weights != weights:
                snap = build_snapshot(session, weights, settings, version)
                self.builds += 1
                self._snapshot = snap
            self._checked_at = checked
            return snap

    def _ensure_refresher(self, period: float) -> bool:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return True
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._refresh_loop,
                    args=(period, self._stop),
                    name="citymarket-match-refresh",
                    daemon=True,
                )
                self._thread.start()
        return True

    def _refresh_loop(self, period: float, stop: threading.Event) -> None:
        while not stop.wait(period):
            engine = self._engine()
            settings = self._settings
            if engine is None or settings is None or time.monotonic() - self._used_at > self.IDLE_SECONDS:
                return
            try:
                with Session(engine) as session:
                    self.refresh(session, settings)
            except Exception:  # the next request checks by itself, and starts a new thread
                log.warning("match store refresh failed; the next request will check", exc_info=True)
                self._dirty = True
                return
            finally:
                del engine

    def close(self) -> None:
        """Stop the background check (the application shuts down); a later request starts it again."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._thread = None


_STORES: weakref.WeakKeyDictionary[Engine, MatchStore] = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def store_for(engine: Engine) -> MatchStore:
    """The process-wide store of this engine (made on first use; it listens to the engine's commits)."""
    with _STORES_LOCK:
        store = _STORES.get(engine)
        if store is None:
            store = MatchStore(engine)
            sa.event.listen(engine, "commit", store.mark_dirty)
            _STORES[engine] = store
        return store


def session_store(session: Session) -> MatchStore:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return store_for(engine)


def close_store(engine: Engine) -> None:
    """Stop this engine's background check, if it has a store (called when the application shuts down)."""
    with _STORES_LOCK:
        store = _STORES.get(engine)
    if store is not None:
        store.close()
