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

**How it stays fresh.** Each loader below is a *section* (`app.matches.sections`) that declares, beside
itself, every column it reads and how the data version covers it. A snapshot carries the *data version* it
was built from: one SQL statement, made from those declarations, that aggregates, per table read, its row
count, largest id, latest `updated_at`, sum of versions and value sums (`fingerprint_statement`), so that
inserts, deletes and updates (even a raw SQL UPDATE that leaves `updated_at` alone) change it.
The version is checked, and the snapshot rebuilt when it changed:
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

import app.models  # noqa: F401  (every table in the metadata)
from app.core.config import MatchingSettings
from app.matches.learned import ClaimArrays, Learned, load_learned
from app.matches.sections import Cover, fingerprint_statement, section, table
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
from app.moderation.models import ContentKind
from app.moderation.visibility import MODERATED_ITEM_COVERS, hidden_object_ids, not_hidden, shown_mask

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


_table = table


# ---------------------------------------------------------------------------------------------------------
# The data version: made from the sections' declarations (app.matches.sections).
# ---------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------
# The sections: one loader each, with the columns its data version covers declared beside it.
# ---------------------------------------------------------------------------------------------------------


def _code(value: Any) -> str:
    """An enum column's value as stored (a StrEnum member or its string)."""
    return str(getattr(value, "value", value))


@dataclass(frozen=True, slots=True)
class _Kpis:
    ids: I64
    slug: tuple[str, ...]
    code: tuple[str, ...]
    name: tuple[str, ...]
    category: Ints
    categories: tuple[tuple[str, str, str], ...]
    order: Ints
    """Argsort of ids: rows stay in code order; lookups go through a sorted copy."""
    sorted_ids: I64

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    def cols(self, ids: list[int]) -> tuple[Ints, Bools]:
        """KPI rows of `ids`, and which were found."""
        pos, found = _index(self.sorted_ids, ids)
        return (self.order[pos] if self.n else pos).astype(np.intp), found


@section(
    "kpis",
    {"kpi": {"id": "key", "slug": "row", "code": "row", "name": "row", "dimension": "row",
             "subdimension": "row", "category": "row"}},
)  # fmt: skip
def _load_kpis(conn: Session) -> _Kpis:
    kpi = _table("kpi")
    rows = conn.execute(
        sa.select(
            kpi.c.id, kpi.c.slug, kpi.c.code, kpi.c.name, kpi.c.dimension, kpi.c.subdimension, kpi.c.category
        ).order_by(kpi.c.code, kpi.c.id)
    ).all()
    ids = np.asarray([r.id for r in rows], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    paths = [(r.dimension, r.subdimension, r.category) for r in rows]
    categories = tuple(dict.fromkeys(paths))
    cat_index = {p: i for i, p in enumerate(categories)}
    return _Kpis(
        ids=ids,
        slug=tuple(r.slug for r in rows),
        code=tuple(r.code for r in rows),
        name=tuple(r.name for r in rows),
        category=np.asarray([cat_index[p] for p in paths], dtype=np.intp),
        categories=categories,
        order=order,
        sorted_ids=ids[order],
    )


@dataclass(frozen=True, slots=True)
class _DataPoints:
    ids: I64
    kpi: Ints
    found: Bools
    """The data point's KPI is known."""
    key: tuple[str, ...]
    direction: npt.NDArray[np.int8]
    benchmark: F64
    benchmark_confidence: F64

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])


@section(
    "data points",
    {
        "kpi_data_point": {"id": "key", "kpi_id": "sum", "key": "length", "direction": "coded"},
        "kpi_benchmark": {"data_point_id": "row", "value": "sum", "confidence": "row"},
    },
)
def _load_data_points(conn: Session, kpis: _Kpis, weights: MatchingWeights) -> _DataPoints:
    dp, bm = _table("kpi_data_point"), _table("kpi_benchmark")
    rows = conn.execute(
        sa.select(dp.c.id, dp.c.kpi_id, dp.c.key, dp.c.direction, bm.c.value, bm.c.confidence)
        .select_from(dp.outerjoin(bm, bm.c.data_point_id == dp.c.id))
        .order_by(dp.c.id)
    ).all()
    kpi, found = kpis.cols([r.kpi_id for r in rows])
    return _DataPoints(
        ids=np.asarray([r.id for r in rows], dtype=np.int64),
        kpi=kpi,
        found=found,
        key=tuple(r.key for r in rows),
        direction=encode_directions(_code(r.direction) for r in rows),
        benchmark=np.asarray([np.nan if r.value is None else r.value for r in rows], dtype=np.float64),
        benchmark_confidence=np.asarray([weights.benchmark_confidence(r.confidence) for r in rows], dtype=np.float64),
    )


@dataclass(frozen=True, slots=True)
class _Cities:
    ids: I64
    slug: tuple[str, ...]
    name: tuple[str, ...]
    country: tuple[str, ...]
    public: Bools
    context: CityContext
    labels: dict[str, tuple[str | None, ...]]

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])


@section(
    "cities",
    {
        "country": {"code": "key", "subregion": "length", "region": "length", "income_group": "length"},
        "city": {"id": "key", "slug": "row", "name": "row", "country_code": "row", "population": "sum",
                 "climate": "row", "data_public": "coded"},
    },
)  # fmt: skip
def _load_cities(conn: Session) -> _Cities:
    country, city = _table("country"), _table("city")
    countries = {
        r.code: (r.subregion or r.region or None, r.income_group or None)
        for r in conn.execute(sa.select(country.c.code, country.c.subregion, country.c.region, country.c.income_group))
    }
    rows = conn.execute(
        sa.select(
            city.c.id, city.c.slug, city.c.name, city.c.country_code, city.c.population, city.c.climate,
            city.c.data_public,
        ).order_by(city.c.id)
    ).all()  # fmt: skip
    region = tuple(countries.get(r.country_code, (None, None))[0] for r in rows)
    income = tuple(countries.get(r.country_code, (None, None))[1] for r in rows)
    climate = tuple((r.climate or None) for r in rows)
    return _Cities(
        ids=np.asarray([r.id for r in rows], dtype=np.int64),
        slug=tuple(r.slug for r in rows),
        name=tuple(r.name for r in rows),
        country=tuple(r.country_code for r in rows),
        public=np.asarray([bool(r.data_public) for r in rows], dtype=np.bool_),
        context=CityContext.from_labels([r.population for r in rows], list(region), list(climate), list(income)),
        labels={"region": region, "climate": climate, "income": income},
    )


@dataclass(frozen=True, slots=True)
class _Latest:
    """(C, D) each city's latest value per data point."""

    value: F64
    year: npt.NDArray[np.int32]
    quality: npt.NDArray[np.int8]
    verified: Bools


OBSERVATION_COVERS: Final[Mapping[str, Cover]] = {
    "city_id": "row", "data_point_id": "row", "year": "sum", "value": "sum", "data_quality": "row", "verified": "row",
}  # fmt: skip


@section("latest values", {"kpi_observation": OBSERVATION_COVERS})
def _load_latest(conn: Session, cities: _Cities, dps: _DataPoints) -> _Latest:
    obs = _table("kpi_observation")
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
    rows = conn.execute(
        sa.select(ranked.c.city_id, ranked.c.data_point_id, ranked.c.year, ranked.c.value, ranked.c.data_quality,
                  ranked.c.verified).where(ranked.c.rank == 1)
    ).all()  # fmt: skip
    shape = (cities.n, dps.n)
    latest = _Latest(
        value=np.full(shape, np.nan, dtype=np.float64),
        year=np.zeros(shape, dtype=np.int32),
        quality=np.full(shape, -1, dtype=np.int8),
        verified=np.zeros(shape, dtype=np.bool_),
    )
    if rows:
        ci, cf = _index(cities.ids, [r.city_id for r in rows])
        di, df = _index(dps.ids, [r.data_point_id for r in rows])
        keep = cf & df
        ci, di = ci[keep], di[keep]
        latest.value[ci, di] = np.asarray([r.value for r in rows], dtype=np.float64)[keep]
        latest.year[ci, di] = np.asarray([r.year for r in rows], dtype=np.int32)[keep]
        latest.quality[ci, di] = np.asarray(
            [QUALITY_CODES.get(_code(r.data_quality), -1) for r in rows], dtype=np.int8
        )[keep]
        latest.verified[ci, di] = np.asarray([bool(r.verified) for r in rows], dtype=np.bool_)[keep]
    return latest


@section("twinnings", {"twinning": {"city_a_id": "sum", "city_b_id": "sum", "status": "row"}})
def _load_twinnings(conn: Session, cities: _Cities) -> dict[int, frozenset[int]]:
    tw = _table("twinning")
    pairs = conn.execute(sa.select(tw.c.city_a_id, tw.c.city_b_id).where(tw.c.status.in_(ACTIVE_TWINNING))).all()
    twinned: dict[int, set[int]] = defaultdict(set)
    if pairs:
        a, fa = _index(cities.ids, [p.city_a_id for p in pairs])
        b, fb = _index(cities.ids, [p.city_b_id for p in pairs])
        for x, y in zip(a[fa & fb].tolist(), b[fa & fb].tolist(), strict=True):
            twinned[x].add(y)
            twinned[y].add(x)
    return {k: frozenset(v) for k, v in twinned.items()}


@dataclass(frozen=True, slots=True)
class _Solutions:
    ids: I64
    slug: tuple[str, ...]
    title: tuple[str, ...]
    vendor: I64
    published: Bools
    vendors: dict[int, VendorInfo]

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])


@section(
    "solutions and vendors",
    {
        "solution": {"id": "key", "slug": "row", "title": "row", "vendor_id": "row", "status": "coded"},
        "vendor": {"id": "key", "slug": "row", "name": "row", "country_code": "row", "verified": "row"},
        "moderated_item": MODERATED_ITEM_COVERS,
    },
)
def _load_solutions(conn: Session) -> _Solutions:
    """`published` is what matches rank: published and not hidden by moderation (`shown_mask`)."""
    sol, vendor = _table("solution"), _table("vendor")
    rows = conn.execute(
        sa.select(sol.c.id, sol.c.slug, sol.c.title, sol.c.vendor_id, sol.c.status).order_by(sol.c.id)
    ).all()
    vendors = {
        r.id: VendorInfo(r.id, r.slug, r.name, r.country_code, bool(r.verified))
        for r in conn.execute(
            sa.select(vendor.c.id, vendor.c.slug, vendor.c.name, vendor.c.country_code, vendor.c.verified)
        )
    }
    ids = np.asarray([r.id for r in rows], dtype=np.int64)
    published = np.asarray([_code(r.status) == "published" for r in rows], dtype=np.bool_)
    return _Solutions(
        ids=ids,
        slug=tuple(r.slug for r in rows),
        title=tuple(r.title for r in rows),
        vendor=np.asarray([r.vendor_id for r in rows], dtype=np.int64),
        published=published & shown_mask(ids, hidden_object_ids(conn, ContentKind.listing)),
        vendors=vendors,
    )


@dataclass(frozen=True, slots=True)
class _ClaimRows:
    """The impact claims whose solution and KPI are known, in the order they were read."""

    sol: Ints
    kpi: Ints
    effect: F64
    level: npt.NDArray[np.int8]
    key: tuple[str, ...]
    """The named data point's key, "" for the KPI as a whole."""
    case_study_id: tuple[int | None, ...]
    data_point_id: tuple[int | None, ...]


@section(
    "claims",
    {
        "solution_kpi_impact": {"solution_id": "sum", "kpi_id": "sum", "data_point_id": "sum",
                                "expected_effect": "sum", "evidence_level": "coded", "case_study_id": "sum"},
        "kpi_data_point": {"id": "key", "key": "length"},
    },
)  # fmt: skip
def _load_claims(conn: Session, sols: _Solutions, kpis: _Kpis) -> _ClaimRows:
    imp, dp = _table("solution_kpi_impact"), _table("kpi_data_point")
    rows = conn.execute(
        sa.select(imp.c.solution_id, imp.c.kpi_id, dp.c.key, imp.c.expected_effect, imp.c.evidence_level,
                  imp.c.case_study_id, imp.c.data_point_id)
        .select_from(imp.outerjoin(dp, dp.c.id == imp.c.data_point_id))
        .order_by(imp.c.solution_id, imp.c.kpi_id)
    ).all()  # fmt: skip
    sol_rows, sol_found = _index(sols.ids, [r.solution_id for r in rows])
    kpi_cols, kpi_found = kpis.cols([r.kpi_id for r in rows])
    keep = sol_found & kpi_found
    kept = [rows[i] for i in np.flatnonzero(keep).tolist()]
    return _ClaimRows(
        sol=sol_rows[keep],
        kpi=kpi_cols[keep],
        effect=np.asarray([float(r.expected_effect) for r in rows], dtype=np.float64)[keep],
        level=np.asarray([EVIDENCE_CODES[_code(r.evidence_level)] for r in rows], dtype=np.int8)[keep],
        key=tuple(r.key or "" for r in kept),
        case_study_id=tuple(r.case_study_id for r in kept),
        data_point_id=tuple(r.data_point_id for r in kept),
    )


@dataclass(frozen=True, slots=True)
class _Facets:
    """Where each solution is offered, its languages and its categories."""

    offered: dict[str, Ints]
    per_country: dict[int, list[str]]
    languages: dict[str, Ints]
    categories: dict[str, Ints]
    per_category: dict[int, list[str]]


@section(
    "solution facets",
    {
        "solution_country": {"solution_id": "sum", "country_code": "key"},
        "solution_language": {"solution_id": "sum", "language": "key"},
        "solution_category": {"solution_id": "sum", "category": "key"},
    },
)
def _load_facets(conn: Session, sols: _Solutions) -> _Facets:
    def by_solution(name: str, column: str, lower: bool = False) -> tuple[dict[str, Ints], dict[int, list[str]]]:
        tab = _table(name)
        rows = conn.execute(sa.select(tab.c.solution_id, tab.c[column].label("facet"))).all()
        srow, sfound = _index(sols.ids, [r.solution_id for r in rows])
        keys = [
            (str(r.facet).lower() if lower else str(r.facet)) for r, f in zip(rows, sfound.tolist(), strict=True) if f
        ]
        per: dict[int, list[str]] = defaultdict(list)
        for s, k in zip(srow[sfound].tolist(), keys, strict=True):
            per[s].append(k)
        return _groups(srow[sfound], keys), per

    offered, per_country = by_solution("solution_country", "country_code")
    languages, _ = by_solution("solution_language", "language", lower=True)
    categories, per_category = by_solution("solution_category", "category", lower=True)
    return _Facets(offered, per_country, languages, categories, per_category)


@section(
    "hubs",
    {
        "hub": {"id": "key", "slug": "row", "name": "row"},
        "hub_country": {"hub_id": "sum", "country_code": "key"},
        "hub_catalogue_entry": {"hub_id": "row", "solution_id": "row", "status": "row"},
    },
)
def _load_hubs(conn: Session, sols: _Solutions) -> dict[int, HubInfo]:
    hub, hub_country, entry = _table("hub"), _table("hub_country"), _table("hub_catalogue_entry")
    hub_rows = conn.execute(sa.select(hub.c.id, hub.c.slug, hub.c.name).order_by(hub.c.id)).all()
    hub_countries: dict[int, list[str]] = defaultdict(list)
    for r in conn.execute(sa.select(hub_country.c.hub_id, hub_country.c.country_code)).all():
        hub_countries[r.hub_id].append(r.country_code)
    listed: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    entries = conn.execute(
        sa.select(entry.c.hub_id, entry.c.solution_id, entry.c.status).where(entry.c.status.in_(LISTED_IN_HUB))
    ).all()
    erow, efound = _index(sols.ids, [e.solution_id for e in entries])
    for e, r, f in zip(entries, erow.tolist(), efound.tolist(), strict=True):
        if f:
            listed[e.hub_id].append((r, _code(e.status) == "featured"))
    return {
        h.id: HubInfo(
            id=h.id,
            slug=h.slug,
            name=h.name,
            countries=tuple(sorted(hub_countries.get(h.id, []))),
            listed=np.unique(np.asarray([r for r, _ in listed.get(h.id, [])], dtype=np.intp)),
            featured=frozenset(r for r, f in listed.get(h.id, []) if f),
        )
        for h in hub_rows
    }


class _EvidenceRow(NamedTuple):
    solution_id: int
    city_id: int
    weight: float
    kind: str
    ref_id: int
    title: str
    year: int | None


CASE_STUDY_COVERS: Final[Mapping[str, Cover]] = {"id": "key", "city_id": "row", "status": "coded"}
CASE_STUDY_SOLUTION_COVERS: Final[Mapping[str, Cover]] = {"solution_id": "sum", "case_study_id": "sum"}


@section(
    "evidence",
    {
        "solution_deployment": {"id": "key", "solution_id": "sum", "city_id": "sum", "year": "sum"},
        "case_study": {**CASE_STUDY_COVERS, "year": "row", "title": "row"},
        "case_study_solution": CASE_STUDY_SOLUTION_COVERS,
        "case_study_outcome": {"case_study_id": "sum"},
        "moderated_item": MODERATED_ITEM_COVERS,
    },
)
def _load_evidence(conn: Session, settings: MatchingSettings, sols: _Solutions, cities: _Cities) -> Evidence:
    dep = _table("solution_deployment")
    deployments = conn.execute(
        sa.select(dep.c.id, dep.c.solution_id, dep.c.city_id, dep.c.year).order_by(dep.c.id)
    ).all()
    cs, css, out_t = _table("case_study"), _table("case_study_solution"), _table("case_study_outcome")
    has_outcomes = sa.exists().where(out_t.c.case_study_id == cs.c.id).label("has_outcomes")
    studies = conn.execute(
        sa.select(cs.c.id, css.c.solution_id, cs.c.city_id, cs.c.year, cs.c.title, has_outcomes)
        .select_from(css.join(cs, cs.c.id == css.c.case_study_id))
        .where(cs.c.status == "published", cs.c.city_id.is_not(None), not_hidden(ContentKind.case_study, cs.c.id))
        .order_by(cs.c.id, css.c.solution_id)
    ).all()
    ev_rows = [_EvidenceRow(r.solution_id, r.city_id, settings.deployment_evidence, "deployment", r.id, "", r.year)
               for r in deployments] + [
        _EvidenceRow(
            r.solution_id,
            r.city_id,
            settings.case_study_outcomes_evidence if r.has_outcomes else settings.case_study_evidence,
            "case_study",
            r.id,
            r.title,
            r.year,
        )
        for r in studies
    ]  # fmt: skip
    es, esf = _index(sols.ids, [r.solution_id for r in ev_rows])
    ec, ecf = _index(cities.ids, [r.city_id for r in ev_rows])
    keep_ev = np.flatnonzero(esf & ecf)
    ev_order = keep_ev[np.argsort(es[keep_ev], kind="stable")]
    ev_sol = es[ev_order]
    picked = [ev_rows[i] for i in ev_order.tolist()]
    return Evidence(
        city=ec[ev_order],
        solution=ev_sol,
        weight=np.asarray([float(r.weight) for r in picked], dtype=np.float64),
        kind=tuple(r.kind for r in picked),
        ref_id=np.asarray([r.ref_id for r in picked], dtype=np.int64),
        title=tuple(r.title for r in picked),
        year=tuple(r.year for r in picked),
        start=_offsets(ev_sol, sols.n),
    )


@dataclass(frozen=True, slots=True)
class _Scored:
    """The U4SSC method, for every city at once."""

    ok: Bools
    """(C, D) scored, and the data point's KPI is known."""
    dp_achievement: F64
    dp_conf: F64
    gaps: F64
    confidence: F64


def _score(kpis: _Kpis, dps: _DataPoints, latest: _Latest, n_city: int, weights: MatchingWeights) -> _Scored:
    n_kpi, n_dp = kpis.n, dps.n
    scored = score_values(latest.value, dps.benchmark[None, :], dps.direction[None, :])
    ok = scored.scored & dps.found[None, :]
    dp_achievement = np.where(ok, scored.achievement, np.nan)
    kpi_achievement = mean_by_group(dp_achievement, dps.kpi, n_kpi) if n_dp else np.full((n_city, n_kpi), np.nan)
    dp_conf = np.where(ok, confidence_array(latest.quality, latest.verified, weights), np.nan)
    kpi_conf = mean_by_group(dp_conf, dps.kpi, n_kpi) if n_dp else np.zeros((n_city, n_kpi))
    gaps = 1.0 - kpi_achievement
    confidence = np.where(np.isfinite(gaps), np.nan_to_num(kpi_conf, nan=0.0), 0.0)
    return _Scored(ok, dp_achievement, dp_conf, gaps, confidence)


@dataclass(frozen=True, slots=True)
class _Targets:
    """The claim-target axis: the KPIs as a whole, then the data points that some claim names."""

    kpi: Ints
    dp: Ints
    of_dp: Ints
    """(D,) target column of each data point, -1 where no claim names it."""
    claim: Ints
    """Target column of each claim."""
    gaps: F64
    data_confidence: F64
    benchmark_confidence: F64


def _targets(kpis: _Kpis, dps: _DataPoints, claims: _ClaimRows, scored: _Scored, n_city: int) -> _Targets:
    # (a data point of another KPI than the claim's, which validation refuses, counts as the KPI as a whole)
    n_kpi, n_dp = kpis.n, dps.n
    claim_dp, dp_ok = _index(dps.ids, [-1 if d is None else d for d in claims.data_point_id])
    on_dp = dp_ok & (dps.kpi[claim_dp] == claims.kpi) if n_dp else dp_ok
    named_dps = np.unique(claim_dp[on_dp]).astype(np.intp)
    target_of_dp = np.full(n_dp, -1, dtype=np.intp)
    target_of_dp[named_dps] = n_kpi + np.arange(named_dps.shape[0], dtype=np.intp)
    claim_target = claims.kpi.astype(np.intp, copy=True)
    claim_target[on_dp] = target_of_dp[claim_dp[on_dp]]
    dp_gaps = 1.0 - scored.dp_achievement[:, named_dps]
    data_confidence = np.concatenate(
        [
            scored.confidence,
            np.where(np.isfinite(dp_gaps), np.nan_to_num(scored.dp_conf[:, named_dps], nan=0.0), 0.0),
        ],
        axis=1,
    )
    # The need the arithmetic weighs is gap x data confidence x benchmark confidence; a KPI's benchmark
    # confidence is the mean over the data points the city is scored on (as its gap is).
    kpi_benchmark_confidence = (
        mean_by_group(np.where(scored.ok, dps.benchmark_confidence[None, :], np.nan), dps.kpi, n_kpi)
        if n_dp
        else np.zeros((n_city, n_kpi))
    )
    benchmark_confidence = np.concatenate(
        [
            np.where(np.isfinite(scored.gaps), np.nan_to_num(kpi_benchmark_confidence, nan=0.0), 0.0),
            np.where(np.isfinite(dp_gaps), dps.benchmark_confidence[named_dps][None, :], 0.0),
        ],
        axis=1,
    )
    return _Targets(
        kpi=np.concatenate([np.arange(n_kpi, dtype=np.intp), dps.kpi[named_dps]]).astype(np.intp),
        dp=np.concatenate([np.full(n_kpi, -1, dtype=np.intp), named_dps]).astype(np.intp),
        of_dp=target_of_dp,
        claim=claim_target,
        gaps=np.concatenate([scored.gaps, dp_gaps], axis=1),
        data_confidence=data_confidence,
        benchmark_confidence=benchmark_confidence,
    )


def build_snapshot(
    conn: Session, weights: MatchingWeights, settings: MatchingSettings, version: tuple[str, ...]
) -> Snapshot:
    """Load everything a match needs in a fixed number of statements (one section each, see
    `app.matches.sections`), and shape it into arrays."""
    started = time.perf_counter()
    kpis = _load_kpis(conn)
    dps = _load_data_points(conn, kpis, weights)
    cities = _load_cities(conn)
    latest = _load_latest(conn, cities, dps)
    scored = _score(kpis, dps, latest, cities.n, weights)
    twinned = _load_twinnings(conn, cities)
    sols = _load_solutions(conn)
    claim_rows = _load_claims(conn, sols, kpis)
    targets = _targets(kpis, dps, claim_rows, scored, cities.n)
    prior_impacts = ImpactMatrix.from_claims(
        sols.n, int(targets.kpi.shape[0]), claim_rows.sol, targets.claim, claim_rows.effect, claim_rows.level,
        weights, dtype=np.float64,
    )  # fmt: skip
    order = np.argsort(claim_rows.sol, kind="stable").tolist()
    claims = Claims(
        kpi=claim_rows.kpi[order],
        target=targets.claim[order],
        effect=claim_rows.effect[order],
        level=claim_rows.level[order],
        data_point=tuple(claim_rows.key[i] for i in order),
        case_study_id=tuple(claim_rows.case_study_id[i] for i in order),
        start=_offsets(claim_rows.sol[order], sols.n),
    )
    facets = _load_facets(conn, sols)

    # Impacts: the claims (u4ssc-match/2), or the effects learned from outcomes (/3).
    learned = Learned.none()
    impacts = prior_impacts
    if weights.need_first:
        learned, base = load_learned(
            conn,
            weights,
            index=_index,
            sol_ids=sols.ids,
            city_ids=cities.ids,
            kpi_cols=kpis.cols,
            dp_ids=dps.ids,
            dp_kpi=dps.kpi,
            dp_benchmark=dps.benchmark,
            dp_direction=dps.direction,
            target_of_dp=targets.of_dp,
            target_kpi=targets.kpi,
            claims=ClaimArrays(claim_rows.sol, targets.claim, claim_rows.effect, claim_rows.level),
            categories={k: sorted(set(v)) for k, v in facets.per_category.items()},
            prior_impacts=prior_impacts,
        )
        if base is not None:
            impacts = ImpactMatrix.from_dense(base)

    hubs = _load_hubs(conn, sols)
    country_hubs: dict[str, list[int]] = defaultdict(list)
    for h in hubs.values():
        for code in h.countries:
            country_hubs[code].append(h.id)
    evidence = _load_evidence(conn, settings, sols, cities)

    return Snapshot(
        version=version,
        weights=weights,
        built_seconds=time.perf_counter() - started,
        kpi_ids=kpis.ids,
        kpi_slug=kpis.slug,
        kpi_code=kpis.code,
        kpi_name=kpis.name,
        kpi_category=kpis.category,
        categories=kpis.categories,
        kpi_scorable=_scorable(kpis, dps),
        dp_ids=dps.ids,
        dp_kpi=dps.kpi,
        dp_key=dps.key,
        dp_benchmark=dps.benchmark,
        city_ids=cities.ids,
        city_slug=cities.slug,
        city_name=cities.name,
        city_country=cities.country,
        city_public=cities.public,
        city_tie=stable_hash(cities.ids.tolist()),
        context=cities.context,
        context_labels=cities.labels,
        value=latest.value,
        year=latest.year,
        quality=latest.quality,
        verified=latest.verified,
        dp_achievement=scored.dp_achievement,
        gaps=scored.gaps,
        confidence=scored.confidence,
        n_scored=np.count_nonzero(np.isfinite(scored.gaps), axis=1).astype(np.intp),
        cities=CityMatrix.from_arrays(scored.gaps, scored.confidence, kpis.category, weights),
        target_kpi=targets.kpi,
        target_dp=targets.dp,
        target_gaps=targets.gaps,
        target_confidence=targets.data_confidence * targets.benchmark_confidence,
        target_data_confidence=targets.data_confidence,
        target_benchmark_confidence=targets.benchmark_confidence,
        twinned=twinned,
        sol_ids=sols.ids,
        sol_slug=sols.slug,
        sol_title=sols.title,
        sol_vendor=sols.vendor,
        sol_published=sols.published,
        sol_tie=stable_hash(sols.ids.tolist()),
        vendors=sols.vendors,
        impacts=SparseImpactMatrix.of(impacts),
        claims=claims,
        offered=facets.offered,
        sol_countries={k: tuple(sorted(v)) for k, v in facets.per_country.items()},
        languages=facets.languages,
        sol_categories=facets.categories,
        hubs=hubs,
        country_hubs={k: tuple(v) for k, v in country_hubs.items()},
        evidence=evidence,
        learned=learned,
        _city_row={int(c): i for i, c in enumerate(cities.ids.tolist())},
        _sol_row={int(s): i for i, s in enumerate(sols.ids.tolist())},
    )


def _scorable(kpis: _Kpis, dps: _DataPoints) -> Bools:
    """A KPI with at least one data point that has a benchmark and a known direction."""
    scorable_dp = np.isfinite(dps.benchmark) & (dps.direction != 3) & dps.found
    out = np.zeros(kpis.n, dtype=np.bool_)
    out[dps.kpi[scorable_dp]] = True
    return out


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
