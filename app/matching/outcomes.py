"""Expected effects learned from measured outcomes (u4ssc-match/3): an empirical-Bayes (shrinkage) blend of
the vendor's claim with the case studies' before/after values.

**Observed share.** A case-study outcome on a KPI (or one of its data points) with values before and after
gives the share of the distance to the benchmark that was closed (the unit of a claim's expected effect,
see `app.matching.scoring.share_of_gap_closed`):

    r = (before - after) / (before - benchmark)   lower is better   (after - before) / (benchmark - before)
                                                                     higher is better

clipped to [0, 1] (a worsening closes nothing); no observation when `before` already met the benchmark,
when the KPI has no benchmark or direction, or when the years are out of order.

**The blend.** For a listing s and claim target t, with the vendor's expected effect e (0 when it claims
nothing there) at evidence weight v_l (claimed < piloted < verified):

    prior mean  m0 = e x v_l                  prior strength  n0 = kappa x v_l   (kappa: outcome_prior_strength)
    weight      u_j = q_j x sim(city_j, asking city)
    estimate    m  = (n0 m0 + sum_j u_j r_j) / (n0 + sum_j u_j)
    interval    m -/+ z sqrt(m (1 - m) / (n0 + sum_j u_j + 1)), clipped to [0, 1]

q_j is the outcome's data quality: the lower confidence (U4SSC data-quality level x verified factor, as
for any KPI value) of the case-study city's own observations of the before and after values, when its
time series holds them; otherwise outcome_quality_dated (both years known) or outcome_quality_undated.

A listing's own outcomes are weighed by the similarity of their city to the asking city, per request (a
gather and a bincount over the outcome rows, prepared when the store is built). A claim with no outcome of
its own borrows, when the store is built, the outcomes of the other listings of its categories on the same
target, each at q_j x outcome_pooled_weight / (number of categories of the listing measured): a category
base rate, the same for every asking city. With no outcome at all, m = m0: u4ssc-match/2's impact.

`source` says where the estimate comes from: `claim` (no outcome), `outcomes` (outcomes, no claim: prior
mean 0, strength kappa, so that one outcome does not make a full claim) or `blended`.

The estimate rises with every r_j, and with u_j exactly when r_j exceeds it: a claim that outcomes contradict
falls towards what was measured, one they confirm rises.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from app.matching.scoring import HIGHER_IS_BETTER, LOWER_IS_BETTER
from app.matching.weights import DEFAULT_WEIGHTS, MatchingWeights

F64 = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]

SOURCES: Final = ("claim", "outcomes", "blended")


def observed_shares(
    before: npt.ArrayLike, after: npt.ArrayLike, benchmark: npt.ArrayLike, direction: npt.ArrayLike
) -> F64:
    """r for every outcome (see the module docstring), NaN where there is nothing to observe: no benchmark,
    a direction other than higher or lower is better, or `before` already at the benchmark."""
    b0, a1, bm, d = np.broadcast_arrays(
        np.asarray(before, dtype=np.float64),
        np.asarray(after, dtype=np.float64),
        np.asarray(benchmark, dtype=np.float64),
        np.asarray(direction, dtype=np.int8),
    )
    lower = d == LOWER_IS_BETTER
    distance = np.where(lower, b0 - bm, bm - b0)
    closed = np.where(lower, b0 - a1, a1 - b0)
    ok = np.isfinite(distance) & np.isfinite(closed) & (distance > 0) & (lower | (d == HIGHER_IS_BETTER))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(ok, np.clip(closed / np.where(ok, distance, 1.0), 0.0, 1.0), np.nan)
    return share


def quality_weights(year_before: npt.ArrayLike, year_after: npt.ArrayLike, weights: MatchingWeights) -> F64:
    """q_j of outcomes whose values the city's own series does not hold: dated ones (both years known)
    weigh outcome_quality_dated, the others _undated."""
    y0 = np.asarray(year_before, dtype=np.float64)
    y1 = np.asarray(year_after, dtype=np.float64)
    dated = np.isfinite(y0) & np.isfinite(y1)
    return np.where(dated, weights.outcome_quality_dated, weights.outcome_quality_undated)


def years_in_order(year_before: npt.ArrayLike, year_after: npt.ArrayLike) -> Bools:
    """False where both years are known and the 'after' year comes first (such an outcome is ignored)."""
    y0 = np.asarray(year_before, dtype=np.float64)
    y1 = np.asarray(year_after, dtype=np.float64)
    return ~(np.isfinite(y0) & np.isfinite(y1) & (y1 < y0))


def blend(prior_mean: F64, prior_strength: F64, weight: F64, weighted_share: F64) -> F64:
    """m = (n0 m0 + sum u r) / (n0 + sum u); m0 where there is no weight at all."""
    total = prior_strength + weight
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(total > 0, (prior_strength * prior_mean + weighted_share) / total, prior_mean)
    return np.clip(m, 0.0, 1.0)


def interval(mean: F64, prior_strength: F64, weight: F64, z: float) -> tuple[F64, F64]:
    """m -/+ z sqrt(m (1 - m) / (n + 1)), n = n0 + sum u, clipped to [0, 1]."""
    half = z * np.sqrt(np.clip(mean * (1.0 - mean), 0.0, None) / (prior_strength + weight + 1.0))
    return np.clip(mean - half, 0.0, 1.0), np.clip(mean + half, 0.0, 1.0)


def interval_of(mean: float, prior_strength: float, weight: float, z: float) -> tuple[float, float]:
    """`interval` for one estimate, in plain floats (the reasons of a top result: no array overhead)."""
    half = z * math.sqrt(max(mean * (1.0 - mean), 0.0) / (prior_strength + weight + 1.0))
    return min(max(mean - half, 0.0), 1.0), min(max(mean + half, 0.0), 1.0)


def prior(effect: npt.ArrayLike, level: npt.ArrayLike, weights: MatchingWeights = DEFAULT_WEIGHTS) -> tuple[F64, F64]:
    """(m0, n0) of claims with expected effect `effect` (0: no claim) at evidence level codes `level` (0..2;
    -1: no claim): e x v_l and kappa x v_l; for no claim 0 and kappa."""
    lv = np.asarray(level, dtype=np.intp)
    table = np.asarray(weights.evidence_table(), dtype=np.float64)
    v = np.where(lv >= 0, table[np.clip(lv, 0, 2)], 1.0)
    e = np.clip(np.nan_to_num(np.asarray(effect, dtype=np.float64), nan=0.0), 0.0, 1.0)
    return np.where(lv >= 0, e * v, 0.0), weights.outcome_prior_strength * v


@dataclass(frozen=True, eq=False)
class OutcomeCells:
    """The claim-target cells (listing, target) that have outcomes of their own, prepared once per store:
    the per-request estimate is `estimates(similarity)`.

    Cells are sorted by listing row; outcome rows point at their cell."""

    row: Ints
    """(N,) listing row of each cell."""
    col: Ints
    """(N,) claim-target column of each cell."""
    prior_mean: F64
    """(N,) m0 (the city-independent estimate, pooled outcomes included, for claims without own outcomes
    never appears here: these cells have outcomes of their own)."""
    prior_strength: F64
    """(N,) n0."""
    has_claim: Bools
    outcome_cell: Ints
    """(O,) the cell of each outcome row."""
    outcome_city: Ints
    """(O,) city row of each outcome's case study."""
    outcome_share: F64
    """(O,) r_j."""
    outcome_quality: F64
    """(O,) q_j."""

    @property
    def n_cells(self) -> int:
        return int(self.row.shape[0])

    @classmethod
    def empty(cls) -> OutcomeCells:
        z, f, b = np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.bool_)
        return cls(z, z, f, f, b, z, z, f, f)

    @functools.cached_property
    def _quality_share(self) -> F64:
        return self.outcome_quality * self.outcome_share  # q r, once per store

    def sums(self, similarity: F64) -> tuple[F64, F64]:
        """(sum u, sum u r) per cell, u = q x sim(city, asking city): the per-request part."""
        sim = similarity[self.outcome_city]
        n = self.n_cells
        w = np.bincount(self.outcome_cell, weights=self.outcome_quality * sim, minlength=n)
        wr = np.bincount(self.outcome_cell, weights=self._quality_share * sim, minlength=n)
        return w.astype(np.float64, copy=False), wr.astype(np.float64, copy=False)

    def subset(self, keep: Bools) -> tuple[OutcomeCells, Ints]:
        """The cells where `keep` (N,) holds, with their outcome rows, and their indices in this table: a
        request that can only rank some listings (one country's) learns for those only."""
        cells = np.flatnonzero(keep).astype(np.intp)
        new_index = np.cumsum(keep, dtype=np.intp) - 1
        rows = np.flatnonzero(keep[self.outcome_cell])
        sub = OutcomeCells(
            row=self.row[cells],
            col=self.col[cells],
            prior_mean=self.prior_mean[cells],
            prior_strength=self.prior_strength[cells],
            has_claim=self.has_claim[cells],
            outcome_cell=new_index[self.outcome_cell[rows]],
            outcome_city=self.outcome_city[rows],
            outcome_share=self.outcome_share[rows],
            outcome_quality=self.outcome_quality[rows],
        )
        return sub, cells

    def estimates(self, similarity: F64) -> F64:
        """m for every cell, for an asking city whose similarity to every city is `similarity`."""
        w, wr = self.sums(similarity)
        return blend(self.prior_mean, self.prior_strength, w, wr)
