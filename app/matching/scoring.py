"""The U4SSC scoring method: achievement, points, bands, gaps and roll-ups.

For one data point with a value v and a benchmark b:

- higher is better: achievement a = v / b;
- lower is better: a = b / v; a value of 0 (or below) meets any target and scores a = 1; a benchmark of 0
  makes the data point pass/fail: a = 1 (4 points) at a value of 0 or below, else a = 0 (1 point), and the
  result is flagged `pass_fail`;
- target is best (the benchmark itself is the optimum, e.g. a gender pay ratio at parity 1.0):
  a = 1 - |v - b| / b, so a value 10 % off the target in either direction scores 0.9;
- direction undetermined, no benchmark, no value, or a benchmark the formula cannot use (0 for a
  higher-is-better or target-is-best data point; any negative benchmark): not scored, and reported missing
  with the reason.

a is capped to [0, 1]; points are 1 below 33 %, 2 from 33 %, 3 from 66 %, 4 from 95 %; the gap is
g = 1 - a. An achievement within `EDGE_TOLERANCE` (1e-9) below a band edge counts as reaching it, because
binary floating point cannot hold the edges exactly (1 - 0.34 == 0.6599999999999999).

Roll-ups (category, sub-dimension, dimension, overall): sum of points / (4 x number of scored items), with
the same bands. Each data point of a multi-data-point KPI is one scored item; the KPI's own achievement is
the mean of its data points' achievements.

Everything here takes plain numbers or NumPy arrays: no database, no application models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from app.matching.weights import DEFAULT_WEIGHTS, MatchingWeights

FloatArray = npt.NDArray[np.float64]
Int8Array = npt.NDArray[np.int8]

#: Directions, in the order of their integer codes (see `encode_directions`).
DIRECTIONS: Final = ("higher_is_better", "lower_is_better", "target_is_best", "undetermined")
HIGHER_IS_BETTER: Final = 0
LOWER_IS_BETTER: Final = 1
TARGET_IS_BEST: Final = 2
UNDETERMINED: Final = 3
_DIRECTION_CODES: Final = {name: code for code, name in enumerate(DIRECTIONS)}

#: Achievement from which a data point earns 2, 3 and 4 points (U4SSC).
POINT_THRESHOLDS: Final = (0.33, 0.66, 0.95)
#: Band labels for 1, 2, 3 and 4 points (and for roll-up ratios in the same ranges).
BANDS: Final = ("0-33 %", "33-66 %", "66-95 %", "95-100 %")
#: An achievement this close below a band edge counts as reaching it.
EDGE_TOLERANCE: Final = 1e-9


class Status(IntEnum):
    """Outcome of scoring one data point. The first two are scored; the others say why not."""

    scored = 0
    pass_fail = 1
    no_value = 2
    no_benchmark = 3
    undetermined_direction = 4
    zero_benchmark = 5
    negative_benchmark = 6


MISSING_REASONS: Final[dict[Status, str]] = {
    Status.no_value: "no value reported",
    Status.no_benchmark: "no benchmark",
    Status.undetermined_direction: "direction undetermined: the sources do not say which way is better",
    Status.zero_benchmark: "benchmark is 0: no ratio can be formed for this direction",
    Status.negative_benchmark: "benchmark is negative",
}


def encode_directions(directions: Iterable[str]) -> Int8Array:
    """Direction names (`DIRECTIONS`) to integer codes; an unknown name raises ValueError."""
    try:
        return np.fromiter((_DIRECTION_CODES[str(d)] for d in directions), dtype=np.int8)
    except KeyError as exc:
        raise ValueError(f"unknown direction {exc.args[0]!r}; expected one of {DIRECTIONS}") from None


def points_from_achievement(achievement: npt.ArrayLike) -> Int8Array:
    """U4SSC points (1 to 4) of achievements in [0, 1]; 0 where the achievement is NaN (not scored)."""
    a = np.asarray(achievement, dtype=np.float64) + EDGE_TOLERANCE
    pts = 1 + (a >= POINT_THRESHOLDS[0]).astype(np.int8)
    pts += a >= POINT_THRESHOLDS[1]
    pts += a >= POINT_THRESHOLDS[2]
    return np.where(np.isnan(a), 0, pts).astype(np.int8)


def band_for(ratio: float) -> str:
    """The band label of an achievement or a roll-up ratio in [0, 1]."""
    if ratio != ratio:  # NaN
        raise ValueError("no band for NaN")
    return BANDS[int(points_from_achievement(ratio)) - 1]


def share_of_gap_closed(before: float, after: float, benchmark: float, lower_is_better: bool) -> float | None:
    """The share of the distance to the benchmark that a change from `before` to `after` closed, in [0, 1]
    (a worsening closes 0); None when `before` already met the benchmark. This is what a verified impact
    claim's expected effect stands for: a claim should not promise more than its case study measured."""
    distance = before - benchmark if lower_is_better else benchmark - before
    if distance <= 0:
        return None
    closed = before - after if lower_is_better else after - before
    return min(max(closed / distance, 0.0), 1.0)


@dataclass(frozen=True, slots=True, eq=False)
class ScoredArray:
    """Vectorised scoring result, all arrays of the broadcast input shape."""

    achievement: FloatArray
    """a in [0, 1]; NaN where not scored."""
    points: Int8Array
    """1 to 4; 0 where not scored."""
    status: Int8Array
    """A `Status` code per element."""

    @property
    def gap(self) -> FloatArray:
        """g = 1 - a; NaN where not scored."""
        return 1.0 - self.achievement

    @property
    def scored(self) -> npt.NDArray[np.bool_]:
        """True where the element was scored (including pass/fail)."""
        return self.status <= Status.pass_fail


def score_values(values: npt.ArrayLike, benchmarks: npt.ArrayLike, directions: npt.ArrayLike) -> ScoredArray:
    """Score whole arrays at once. `values`, `benchmarks` (NaN = missing) and `directions` (integer codes
    from `encode_directions`) broadcast against each other: a (cities, data points) value matrix against
    (data points,) benchmarks and directions scores every city in one call."""
    v, b, d = np.broadcast_arrays(
        np.asarray(values, dtype=np.float64),
        np.asarray(benchmarks, dtype=np.float64),
        np.asarray(directions, dtype=np.int8),
    )
    if np.any((d < 0) | (d > UNDETERMINED)):
        raise ValueError("direction codes must be in 0..3 (see DIRECTIONS)")
    has_v = np.isfinite(v)
    has_b = np.isfinite(b)
    higher = d == HIGHER_IS_BETTER
    lower = d == LOWER_IS_BETTER
    target = d == TARGET_IS_BEST

    # Status, most fundamental reason first: what the framework lacks, then what the city lacks.
    status = np.full(v.shape, Status.scored, dtype=np.int8)
    status[has_v & lower & (b == 0)] = Status.pass_fail
    status[~has_v] = Status.no_value
    status[has_b & (b == 0) & (higher | target)] = Status.zero_benchmark
    status[has_b & (b < 0)] = Status.negative_benchmark
    status[~has_b] = Status.no_benchmark
    status[d == UNDETERMINED] = Status.undetermined_direction

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = np.where(higher, v / b, np.nan)
        a = np.where(lower, np.where(v <= 0, 1.0, b / v), a)
        a = np.where(target, 1.0 - np.abs(v - b) / b, a)
    a = np.clip(a, 0.0, 1.0)
    a[status == Status.pass_fail] = np.where(v[status == Status.pass_fail] <= 0, 1.0, 0.0)
    a[status > Status.pass_fail] = np.nan
    return ScoredArray(achievement=a, points=points_from_achievement(a), status=status)


def mean_by_group(matrix: npt.ArrayLike, groups: npt.ArrayLike, n_groups: int) -> FloatArray:
    """Mean of the finite entries of each group of columns: (..., D) with `groups` (D,) in 0..n_groups-1
    gives (..., n_groups); NaN where a group has no finite entry. Data points to KPIs (a KPI's achievement
    is the mean of its data points'), or KPIs to categories."""
    x = np.asarray(matrix, dtype=np.float64)
    g = np.asarray(groups, dtype=np.intp)
    if g.ndim != 1 or x.shape[-1] != g.shape[0]:
        raise ValueError("groups must have one entry per column")
    if g.size and (g.min() < 0 or g.max() >= n_groups):
        raise ValueError("group indices must be in 0..n_groups-1")
    onehot = np.zeros((g.shape[0], n_groups), dtype=np.float64)
    onehot[np.arange(g.shape[0]), g] = 1.0
    finite = np.isfinite(x)
    sums = np.where(finite, x, 0.0) @ onehot
    counts = finite.astype(np.float64) @ onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def confidence_array(
    quality: npt.ArrayLike, verified: npt.ArrayLike, weights: MatchingWeights = DEFAULT_WEIGHTS
) -> FloatArray:
    """Confidences from quality codes (positions in `QUALITY_LEVELS`; -1 = none, counted as unknown) and
    verified flags, broadcast together."""
    q = np.asarray(quality, dtype=np.intp)
    table = np.asarray(weights.quality_table(), dtype=np.float64)
    if np.any((q < -1) | (q >= table.shape[0])):
        raise ValueError("quality codes must be -1..5")
    base = table[np.where(q < 0, table.shape[0] - 1, q)]
    factor = np.where(np.asarray(verified, dtype=bool), weights.verified_factor, weights.unverified_factor)
    return np.minimum(1.0, base * factor)


# ---------------------------------------------------------------------------------------------------------
# The per-city scorecard, from plain inputs.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreItem:
    """One data point of one KPI for one city, as the service loads it."""

    kpi_code: str
    category: str
    subdimension: str
    dimension: str
    value: float | None
    benchmark: float | None
    direction: str
    data_point: str = ""
    """"" for a KPI measured as a whole, else the data point's name ("PM2.5")."""
    quality: str | None = None
    """One of `QUALITY_LEVELS`; None counts as unknown."""
    verified: bool = False


@dataclass(frozen=True, slots=True)
class MissingItem:
    """A data point left out of the scores, and why."""

    kpi_code: str
    data_point: str
    reason_code: str
    """A `Status` name: no_value, no_benchmark, undetermined_direction, zero_benchmark, negative_benchmark."""
    reason: str


@dataclass(frozen=True, slots=True)
class DataPointScore:
    kpi_code: str
    data_point: str
    value: float | None
    benchmark: float | None
    direction: str
    scored: bool
    pass_fail: bool
    """Scored pass/fail: a lower-is-better data point with a benchmark of 0."""
    achievement: float | None
    gap: float | None
    points: int | None
    band: str | None
    missing: MissingItem | None
    quality: str | None
    verified: bool
    confidence: float
    """Confidence in the value (quality and verification); 0 when there is no value."""


@dataclass(frozen=True, slots=True)
class KpiScore:
    kpi_code: str
    category: str
    subdimension: str
    dimension: str
    achievement: float | None
    """Mean achievement of the scored data points; None when none is scored."""
    gap: float | None
    points: int | None
    """Points of the mean achievement (informational: roll-ups count the data points' points)."""
    band: str | None
    confidence: float
    """Mean confidence of the scored data points; 0 when none is scored."""
    n_scored: int
    data_points: tuple[DataPointScore, ...]

    @property
    def missing(self) -> bool:
        return self.n_scored == 0


RollUpLevel = Literal["category", "subdimension", "dimension", "overall"]


@dataclass(frozen=True, slots=True)
class RollUp:
    level: RollUpLevel
    dimension: str | None
    subdimension: str | None
    category: str | None
    points: int
    n_scored: int
    """Number of scored items (data points)."""
    max_points: int
    """4 x n_scored."""
    ratio: float | None
    """points / max_points; None when nothing is scored."""
    band: str | None
    kpi_codes: tuple[str, ...]
    missing_kpis: tuple[str, ...]
    """KPIs of the group with no scored data point."""
    missing: tuple[MissingItem, ...]
    """Every data point of the group left out, with the reason."""

    @property
    def percent(self) -> float | None:
        return None if self.ratio is None else self.ratio * 100.0

    @property
    def name(self) -> str:
        return self.category or self.subdimension or self.dimension or "overall"


@dataclass(frozen=True, slots=True)
class Scorecard:
    method_version: str
    kpis: tuple[KpiScore, ...]
    categories: tuple[RollUp, ...]
    subdimensions: tuple[RollUp, ...]
    dimensions: tuple[RollUp, ...]
    overall: RollUp

    def kpi(self, code: str) -> KpiScore:
        for k in self.kpis:
            if k.kpi_code == code:
                return k
        raise KeyError(code)

    def category(self, name: str, subdimension: str | None = None, dimension: str | None = None) -> RollUp:
        """A category roll-up by name. U4SSC repeats some names (Water and Sanitation sits under ICT,
        Infrastructure and Environment): pass the sub-dimension (and dimension) to choose."""
        found = [
            r
            for r in self.categories
            if r.category == name
            and (subdimension is None or r.subdimension == subdimension)
            and (dimension is None or r.dimension == dimension)
        ]
        if len(found) != 1:
            raise KeyError(f"{len(found)} categories match {name!r}")
        return found[0]

    def subdimension(self, name: str, dimension: str | None = None) -> RollUp:
        found = [
            r for r in self.subdimensions if r.subdimension == name and (dimension is None or r.dimension == dimension)
        ]
        if len(found) != 1:
            raise KeyError(f"{len(found)} sub-dimensions match {name!r}")
        return found[0]

    def dimension(self, name: str) -> RollUp:
        for r in self.dimensions:
            if r.dimension == name:
                return r
        raise KeyError(name)


def _opt(x: float) -> float | None:
    return None if x != x else float(x)


def _roll_up(
    level: RollUpLevel,
    key: tuple[str | None, str | None, str | None],
    kpis: Sequence[KpiScore],
) -> RollUp:
    scored = [dp for k in kpis for dp in k.data_points if dp.scored]
    points = sum(dp.points or 0 for dp in scored)
    n = len(scored)
    ratio = points / (4 * n) if n else None
    return RollUp(
        level=level,
        dimension=key[0],
        subdimension=key[1],
        category=key[2],
        points=points,
        n_scored=n,
        max_points=4 * n,
        ratio=ratio,
        band=None if ratio is None else band_for(ratio),
        kpi_codes=tuple(k.kpi_code for k in kpis),
        missing_kpis=tuple(k.kpi_code for k in kpis if k.missing),
        missing=tuple(dp.missing for k in kpis for dp in k.data_points if dp.missing is not None),
    )


def build_scorecard(items: Iterable[ScoreItem], weights: MatchingWeights = DEFAULT_WEIGHTS) -> Scorecard:
    """A city's scorecard: every data point scored, each KPI's mean achievement, and the roll-ups per
    category, sub-dimension, dimension and overall. Items are kept in the order given (first appearance
    orders KPIs and groups). A repeated (kpi_code, data_point), or a KPI given under two different
    categories, raises ValueError."""
    rows = list(items)
    seen: set[tuple[str, str]] = set()
    place: dict[str, tuple[str, str, str]] = {}
    for it in rows:
        if (it.kpi_code, it.data_point) in seen:
            raise ValueError(f"data point {it.kpi_code!r}/{it.data_point!r} given twice")
        seen.add((it.kpi_code, it.data_point))
        where = (it.dimension, it.subdimension, it.category)
        if place.setdefault(it.kpi_code, where) != where:
            raise ValueError(f"KPI {it.kpi_code!r} given under two categories")

    values = np.array([np.nan if it.value is None else it.value for it in rows], dtype=np.float64)
    benchmarks = np.array([np.nan if it.benchmark is None else it.benchmark for it in rows], dtype=np.float64)
    result = score_values(values, benchmarks, encode_directions(it.direction for it in rows))

    by_kpi: dict[str, list[DataPointScore]] = {}
    for i, it in enumerate(rows):
        status = Status(int(result.status[i]))
        scored = status <= Status.pass_fail
        a = float(result.achievement[i])
        has_value = it.value is not None and bool(np.isfinite(values[i]))
        by_kpi.setdefault(it.kpi_code, []).append(
            DataPointScore(
                kpi_code=it.kpi_code,
                data_point=it.data_point,
                value=it.value,
                benchmark=it.benchmark,
                direction=it.direction,
                scored=scored,
                pass_fail=status == Status.pass_fail,
                achievement=a if scored else None,
                gap=1.0 - a if scored else None,
                points=int(result.points[i]) if scored else None,
                band=BANDS[int(result.points[i]) - 1] if scored else None,
                missing=None
                if scored
                else MissingItem(it.kpi_code, it.data_point, status.name, MISSING_REASONS[status]),
                quality=it.quality,
                verified=it.verified,
                confidence=weights.confidence(it.quality, it.verified) if has_value else 0.0,
            )
        )

    kpis: list[KpiScore] = []
    for code, dps in by_kpi.items():
        dim, sub, cat = place[code]
        scored_dps = [dp for dp in dps if dp.scored]
        n = len(scored_dps)
        mean_a = sum(dp.achievement or 0.0 for dp in scored_dps) / n if n else float("nan")
        kpis.append(
            KpiScore(
                kpi_code=code,
                category=cat,
                subdimension=sub,
                dimension=dim,
                achievement=_opt(mean_a),
                gap=_opt(1.0 - mean_a),
                points=int(points_from_achievement(mean_a)) if n else None,
                band=band_for(mean_a) if n else None,
                confidence=sum(dp.confidence for dp in scored_dps) / n if n else 0.0,
                n_scored=n,
                data_points=tuple(dps),
            )
        )

    def group(key_len: int) -> dict[tuple[str, ...], list[KpiScore]]:
        out: dict[tuple[str, ...], list[KpiScore]] = {}
        for k in kpis:
            out.setdefault((k.dimension, k.subdimension, k.category)[:key_len], []).append(k)
        return out

    def pad(key: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
        full: list[str | None] = [*key, None, None, None]
        return (full[0], full[1], full[2])

    return Scorecard(
        method_version=weights.method_version,
        kpis=tuple(kpis),
        categories=tuple(_roll_up("category", pad(key), ks) for key, ks in group(3).items()),
        subdimensions=tuple(_roll_up("subdimension", pad(key), ks) for key, ks in group(2).items()),
        dimensions=tuple(_roll_up("dimension", pad(key), ks) for key, ks in group(1).items()),
        overall=_roll_up("overall", (None, None, None), kpis),
    )
