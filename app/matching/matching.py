"""Matching arithmetic: solutions for a city, cities for a solution (leads), twin-city partners.

Inputs are dense NumPy arrays over a fixed KPI axis (K columns, in any order as long as every argument
uses the same one): a city's gaps g_k (NaN = not reported) and confidences c_k, per-KPI weights w_k, and a
solution x KPI impact matrix with i_sk = expected effect x evidence weight, in [0, 1].

**Relevance of solution s to a city**

    relevance_s = min(1, sum_k w_k g_k c_k i_sk / D_s),   D_s = sum_k w_k p_sk / max_k p_sk
    evidence_s  = x_s / (x_s + similar_evidence_half)

    u4ssc-match/3 (need first):  score_s = relevance_s x ((1 - beta) + beta evidence_s)
                                 ranked only when relevance_s > 0
    u4ssc-match/2:               score_s = (1 - beta) relevance_s + beta evidence_s

where beta = similar_evidence_weight, x_s is the similarity-weighted count of the solution's deployments
and case studies in cities like this one, p_sk the claimed impact (expected effect x evidence weight) and
i_sk the impact the arithmetic weighs: the claim under /2, under /3 the effect learned from measured
outcomes (`app.matching.outcomes`, passed as `ImpactOverrides` for the cells whose estimate depends on the
asking city). D_s counts the KPIs the solution claims to improve, each in proportion to its impact relative
to the listing's main claim (a claim as strong as the main one counts 1, a side benefit a tenth as strong
counts 0.1), so relevance is an impact-weighted mean of need (gap x confidence), scaled by the main claim's
impact. The normaliser depends on the solution's claims and the KPI weights only, never on the gaps nor on
the outcomes, so the score is non-decreasing in every g_k, every c_k of a KPI the solution addresses and
every learned i_sk; it is at most 1. Dividing by the city's own total need instead would not be monotone
(a larger gap on a KPI the solution helps little would lower its score). Claims on KPIs where the city
needs less than the listing's mean dilute the score, so a listing that claims an effect on every KPI does
not outrank one aimed at the city's weaknesses; but an honest minor side benefit costs a listing little
(counting every claim as 1, as u4ssc-match/1 did, cut a low-emission zone's score to a third for naming two
small side effects next to its NO2 claim). Under /3, evidence from similar cities is a bounded factor in
[1 - beta, 1) on the relevance: it strengthens need that exists and never creates it, and a listing with
no need (relevance 0: no gap on anything it claims) is not ranked at all.

**Cities for a solution** use exactly the same formula, read along the other axis.

**Twin partners** (city q, candidate p): complementarity both ways, shared weak categories, context
similarity; see `twin_partners`. The pair score is symmetric: ranking p for q and q for p see the same
number. Under /3 a partner with no complementarity either way and no shared weak category is not offered,
however alike the two cities are.

Every score comes with its parts, and the parts of each top result add up to its score. Ties (after
rounding to `rank_decimals`) are broken by a stable hash of the id, never by input order or by name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from app.matching.scoring import EDGE_TOLERANCE, mean_by_group
from app.matching.weights import DEFAULT_WEIGHTS, EVIDENCE_LEVELS, MatchingWeights

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.intp]

_CHUNK_ROWS: Final = 4096  # 4096 x 91 float64 = 3 MB: stays in cache
_SPARSE_SUPPORT_DENSITY: Final = 0.25
# Impacts below this count as none: claims come in steps of 0.05, and a sub-normal impact would make the
# normaliser D = sum w i / max i sub-normal too (and ratios over it meaningless).
_MIN_IMPACT: Final = 1e-9
_TIE_PERSON: Final = b"citymarket-tie"


# ---------------------------------------------------------------------------------------------------------
# Tie-breaking and top-k.
# ---------------------------------------------------------------------------------------------------------


def stable_hash(ids: Iterable[str | int]) -> U64:
    """Tie-break keys: blake2b (8 bytes, personalised) of each id's string form, as uint64. Stable across
    processes and platforms (unlike `hash()`), and unrelated to the alphabetical order of names. Compute
    once per catalogue and pass as `tie_keys`."""
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(str(i).encode(), digest_size=8, person=_TIE_PERSON).digest(), "big")
            for i in ids
        ),
        dtype=np.uint64,
    )


def top_k_indices(scores: F64, tie_keys: U64, k: int, mask: Bools | None = None, decimals: int = 9) -> Ints:
    """Indices of the k best scores, best first; equal scores (after rounding to `decimals`) ordered by
    ascending tie key. Masked-out entries are never returned. Independent of the order of the inputs, given
    distinct tie keys."""
    key = np.round(np.asarray(scores, dtype=np.float64), decimals)
    key = np.where(np.isnan(key), -np.inf, key)  # a NaN score ranks last, never breaks the selection
    if mask is not None:
        key = np.where(mask, key, -np.inf)
        n_valid = int(np.count_nonzero(mask))
    else:
        n_valid = key.shape[0]
    k = min(int(k), n_valid)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k < key.shape[0]:
        part = np.argpartition(-key, k - 1)[:k]
        threshold = key[part].min()
        above = part[key[part] > threshold]
        tied = np.flatnonzero(key == threshold)
        need = k - above.shape[0]
        if tied.shape[0] > need:
            tied = tied[np.argpartition(tie_keys[tied], need - 1)[:need]]
        idx = np.concatenate([above, tied]).astype(np.intp)
    else:
        idx = np.arange(key.shape[0], dtype=np.intp)
    order = np.lexsort((tie_keys[idx], -key[idx]))
    return idx[order]


def _tie_keys(n: int, tie_keys: npt.ArrayLike | None, ids: Sequence[str | int] | None) -> U64:
    if tie_keys is not None:
        keys = np.asarray(tie_keys, dtype=np.uint64)
    elif ids is not None:
        keys = stable_hash(ids)
    else:
        raise ValueError("pass tie_keys (see stable_hash) or ids")
    if keys.shape != (n,):
        raise ValueError(f"tie_keys must have shape ({n},), got {keys.shape}")
    if ids is not None and len(ids) != n:
        raise ValueError(f"ids must have {n} entries, got {len(ids)}")
    return keys


def _label(ids: Sequence[str | int] | None, i: int) -> str | None:
    return None if ids is None else str(ids[i])


# ---------------------------------------------------------------------------------------------------------
# Input cleaning.
# ---------------------------------------------------------------------------------------------------------


def _vector(x: npt.ArrayLike, n: int, name: str) -> F64:
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {a.shape}")
    return a


def _clean_gaps(gaps: F64) -> tuple[F64, Bools]:
    """(gaps clipped to [0, 1] with 0 where not reported, reported mask)."""
    reported = np.isfinite(gaps)
    return np.where(reported, np.clip(gaps, 0.0, 1.0), 0.0), reported


def _clean_confidence(confidence: F64, reported: Bools) -> F64:
    """Confidence clipped to [0, 1]; NaN and not-reported KPIs count as 0."""
    ok = np.isfinite(confidence) & reported
    return np.where(ok, np.clip(confidence, 0.0, 1.0), 0.0)


def _clean_impacts(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A new array of impacts in [0, 1], of the same dtype: NaN and negatives count as none, +inf as 1, and
    anything below `_MIN_IMPACT` as none. Both readings of the relevance (solutions, leads) clean this way."""
    out: npt.NDArray[Any] = np.clip(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    out = out.astype(values.dtype, copy=False)
    out[out < _MIN_IMPACT] = 0.0
    return out


def _kpi_weights(kpi_weights: npt.ArrayLike | None, shape: tuple[int, ...], weights: MatchingWeights) -> F64:
    if kpi_weights is None:
        return np.full(shape[-1:], weights.default_kpi_weight, dtype=np.float64)
    w = np.asarray(kpi_weights, dtype=np.float64)
    if w.shape not in (shape[-1:], shape):
        raise ValueError(f"kpi_weights must have shape {shape[-1:]} or {shape}, got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("kpi_weights must be finite and >= 0")
    return w


def _evidence_term(similar_evidence: npt.ArrayLike | None, n: int, weights: MatchingWeights) -> tuple[F64, F64]:
    """(evidence counts, NaN and negatives as 0; weighted evidence term beta x x / (x + half))."""
    if similar_evidence is None:
        x = np.zeros(n, dtype=np.float64)
    else:
        x = _vector(similar_evidence, n, "similar_evidence")
        # nan_to_num (four passes) only for NaN or infinite counts, never from the store: two reductions tell.
        if n and not (x.min() > -np.inf and x.max() < np.inf):  # NaN fails both comparisons
            x = np.nan_to_num(x, nan=0.0, posinf=np.finfo(np.float64).max, neginf=0.0)
        x = np.maximum(x, 0.0)
    term = weights.similar_evidence_weight * (x / (x + weights.similar_evidence_half))
    return x, term


# ---------------------------------------------------------------------------------------------------------
# The impact matrix.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class ImpactMatrix:
    """A validated solution x KPI impact matrix (i_sk = expected effect x evidence weight, in [0, 1]),
    prepared once per catalogue version and reused by every request. float32 halves the memory (100,000 x
    91 is 36 MB); sums are still accumulated in float64."""

    values: F32 | F64
    """(S, K), C-contiguous, finite, in [0, 1]; 0 where the solution claims nothing."""
    support_count: F64
    """(S,) number of KPIs with a positive impact, per solution."""
    main_impact: F64
    """(S,) the largest impact of each solution (0 for a solution with no claim)."""
    claim_mass: F64
    """(S,) sum_k i_sk / max_k i_sk: the normaliser under equal KPI weights, computed once."""
    support_rows: npt.NDArray[np.int32] | None = None
    """Row of every positive cell, row-major (None when the matrix is dense, over a quarter non-zero)."""
    support_cols: npt.NDArray[np.int32] | None = None
    """Column of every positive cell, in the same order."""

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    @classmethod
    def from_dense(cls, impacts: npt.ArrayLike, dtype: type[np.floating[Any]] | None = None) -> ImpactMatrix:
        """Validate and clean a dense (S, K) matrix: NaN counts as no impact, values are clipped to [0, 1].
        Keeps float32 or float64 (anything else becomes float64) unless `dtype` says otherwise."""
        a = np.asarray(impacts)
        if a.ndim != 2:
            raise ValueError(f"impacts must be 2-D (solutions x KPIs), got shape {a.shape}")
        target = np.dtype(dtype) if dtype is not None else a.dtype
        if target not in (np.dtype(np.float32), np.dtype(np.float64)):
            target = np.dtype(np.float64)
        vals = np.ascontiguousarray(_clean_impacts(np.asarray(a, dtype=target)))
        vals.setflags(write=False)
        positive = vals > 0
        count = np.count_nonzero(positive, axis=1).astype(np.float64)
        main = vals.max(axis=1).astype(np.float64) if vals.shape[1] else np.zeros(vals.shape[0], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            mass = np.where(main > 0, vals.sum(axis=1, dtype=np.float64) / main, 0.0)
        if np.count_nonzero(positive) <= _SPARSE_SUPPORT_DENSITY * positive.size:
            rows, cols = np.nonzero(positive)
            return cls(vals, count, main, mass, rows.astype(np.int32), cols.astype(np.int32))
        return cls(values=vals, support_count=count, main_impact=main, claim_mass=mass)

    def normalisers(self, kpi_weights: F64) -> F64:
        """D_s = sum_k w_k i_sk / max_k i_sk for every solution (0 for a solution with no claim)."""
        n_sol, n_kpi = self.shape
        if n_kpi == 0:
            return np.zeros(n_sol, dtype=np.float64)
        w = np.asarray(kpi_weights, dtype=np.float64)
        if bool(np.all(w == w[0])):
            return self.claim_mass * float(w[0])
        weighted = self.dot(w)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.main_impact > 0, weighted / self.main_impact, 0.0)

    def dot(self, vector: F64) -> F64:
        """values @ vector, accumulated in float64 (float32 values are widened a block at a time)."""
        if self.values.dtype == np.float64:
            out: F64 = self.values @ vector
            return out
        n_sol = self.shape[0]
        out = np.empty(n_sol, dtype=np.float64)
        for start in range(0, n_sol, _CHUNK_ROWS):
            block = self.values[start : start + _CHUNK_ROWS].astype(np.float64)
            np.dot(block, vector, out=out[start : start + _CHUNK_ROWS])
        return out

    @classmethod
    def from_claims(
        cls,
        n_solutions: int,
        n_kpis: int,
        solution_index: npt.ArrayLike,
        kpi_index: npt.ArrayLike,
        expected_effect: npt.ArrayLike,
        evidence: Sequence[str] | npt.ArrayLike,
        weights: MatchingWeights = DEFAULT_WEIGHTS,
        dtype: type[np.floating[Any]] = np.float32,
    ) -> ImpactMatrix:
        """Build from impact claims, one row per claim: solution row, KPI column, expected effect (the share
        of the gap the solution is expected to close, in [0, 1]) and evidence level (`claimed`, `piloted`,
        `verified`, or their positions 0..2). i = effect x evidence weight; of two claims on the same cell,
        the larger impact wins."""
        s = np.asarray(solution_index, dtype=np.intp)
        k = np.asarray(kpi_index, dtype=np.intp)
        effect = np.clip(np.nan_to_num(np.asarray(expected_effect, dtype=np.float64), nan=0.0), 0.0, 1.0)
        ev = np.asarray(evidence)
        if ev.dtype.kind in "USO":
            codes = {name: i for i, name in enumerate(EVIDENCE_LEVELS)} | {str(i): i for i in range(3)}
            try:
                level = np.fromiter((codes[str(e)] for e in ev.ravel()), dtype=np.intp, count=ev.size)
            except KeyError as exc:
                raise ValueError(f"unknown evidence level {exc.args[0]!r}") from None
        else:
            level = ev.astype(np.intp).ravel()
        if not (s.shape == k.shape == effect.shape == level.shape) or s.ndim != 1:
            raise ValueError("claim arrays must be 1-D and of equal length")
        if s.size and (s.min() < 0 or s.max() >= n_solutions or k.min() < 0 or k.max() >= n_kpis):
            raise ValueError("claim index out of range")
        if level.size and (level.min() < 0 or level.max() > 2):
            raise ValueError("evidence codes must be 0..2")
        impact = effect * np.asarray(weights.evidence_table(), dtype=np.float64)[level]
        dense = np.zeros((n_solutions, n_kpis), dtype=np.float64)
        np.maximum.at(dense, (s, k), impact)
        return cls.from_dense(dense, dtype=dtype)


# ---------------------------------------------------------------------------------------------------------
# Relevance results.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class ImpactOverrides:
    """Cells of the impact matrix whose impact depends on the asking city (u4ssc-match/3: effects learned
    from outcomes weighed by the similarity of their city), and the normaliser D the arithmetic divides by
    (the claims', so that a learned impact never changes how the listing's claims dilute each other)."""

    row: Ints
    """(N,) solution row of each cell, sorted."""
    col: Ints
    """(N,) KPI (claim-target) column of each cell."""
    value: F64
    """(N,) the impact to weigh there, in [0, 1] (the caller's estimate; not clipped again here)."""
    normaliser: F64 | None = None
    """(S,) D per solution; None: the impact matrix's own."""
    base: F64 | None = None
    """(N,) the matrix's own values at the cells, when the caller knows them (saves a gather)."""


@dataclass(frozen=True, slots=True)
class KpiContribution:
    """One KPI's share of a relevance score: contribution = (1 - beta) w g c i / D."""

    kpi: int
    """Column index on the KPI axis."""
    gap: float | None
    """None: the city reports no value (the KPI then contributes 0)."""
    confidence: float
    kpi_weight: float
    impact: float
    contribution: float


@dataclass(frozen=True, slots=True)
class RelevanceMatch:
    """A top result (a solution for a city, or a city for a solution) with the reasons for its score:
    sum(k.contribution for k in kpis) + similar_contribution == score."""

    index: int
    """Row index in the inputs."""
    id: str | None
    score: float
    relevance: float
    """The need-weighted relevance (kpi_term / (1 - beta))."""
    kpi_term: float
    """Sum of the KPI contributions: (1 - beta) x relevance."""
    normaliser: float
    """D = sum of w_k i_k over the KPIs the solution addresses, divided by its largest i_k."""
    kpis: tuple[KpiContribution, ...]
    """Every KPI the solution addresses, largest contribution first."""
    similar_evidence: float
    """Similarity-weighted count of deployments and case studies in similar cities (the input)."""
    similar_contribution: float
    """/3: beta x relevance x evidence term; /2: beta x evidence term."""


@dataclass(frozen=True, slots=True, eq=False)
class RelevanceResult:
    scores: F64
    """Score of every row (masked rows too), in [0, 1]."""
    kpi_term: F64
    """(1 - beta) x normalised KPI relevance, per row."""
    similar_term: F64
    """The similar-city part, per row; scores == kpi_term + similar_term."""
    top: tuple[RelevanceMatch, ...]
    method_version: str
    relevance: F64
    """Need-weighted relevance per row, in [0, 1]; 0: no need (under /3 never ranked)."""
    ranked: Bools
    """Rows that could be ranked: the mask, and under /3 relevance > 0."""


_RowInputs = tuple[list[int], list[float], list[bool], list[float], list[float], list[float]]
"""A top row's KPI columns, with their gaps, reported flags, confidences, KPI weights and impacts."""


def _kpi_reasons(
    kpi_cols: list[int],
    gaps: list[float],
    reported: list[bool],
    conf: list[float],
    w: list[float],
    impact: list[float],
    share: float,
    normaliser: float,
) -> tuple[KpiContribution, ...]:
    # A handful of KPIs: plain Python floats. Divide by D last: 1 / D alone can overflow for a tiny D.
    rows = [
        (k, g, r, c, wk, i, share * (wk * g * c * i) / normaliser if normaliser > 0 else 0.0)
        for k, g, r, c, wk, i in zip(kpi_cols, gaps, reported, conf, w, impact, strict=True)
    ]
    rows.sort(key=lambda t: (-t[6], t[0]))  # largest contribution first, then by column
    return tuple(
        KpiContribution(kpi=k, gap=g if r else None, confidence=c, kpi_weight=wk, impact=i, contribution=x)
        for k, g, r, c, wk, i, x in rows
    )


def _relevance_top(
    idx: Ints,
    scores: F64,
    rel: F64,
    kpi_term: F64,
    similar_raw: F64,
    similar_term: F64,
    norm: F64,
    ids: Sequence[str | int] | None,
    rows_inputs: Callable[[Ints], list[_RowInputs]],
    beta: float,
) -> tuple[RelevanceMatch, ...]:
    out = []
    for i, score, r, term, d, x, x_term, (cols, g, rep, c, w, imp) in zip(
        idx.tolist(),
        scores[idx].tolist(),
        rel[idx].tolist(),
        kpi_term[idx].tolist(),
        norm[idx].tolist(),
        similar_raw[idx].tolist(),
        similar_term[idx].tolist(),
        rows_inputs(idx),
        strict=True,
    ):
        out.append(
            RelevanceMatch(
                index=i,
                id=_label(ids, i),
                score=score,
                relevance=r,
                kpi_term=term,
                normaliser=d,
                kpis=_kpi_reasons(cols, g, rep, c, w, imp, 1.0 - beta, d),
                similar_evidence=x,
                similar_contribution=x_term,
            )
        )
    return tuple(out)


def _combine(rel: F64, similar_evidence: npt.ArrayLike | None, n: int, weights: MatchingWeights) -> tuple[F64, ...]:
    """(scores, kpi_term, evidence counts, similar term) from the relevance, by the algorithm's rule."""
    beta = weights.similar_evidence_weight
    kpi_term = (1.0 - beta) * rel
    similar_raw, similar_term = _evidence_term(similar_evidence, n, weights)
    if weights.need_first:
        similar_term = similar_term * rel  # a bounded factor on the need: no need, no evidence credit
    return kpi_term + similar_term, kpi_term, similar_raw, similar_term


def _ranked(rel: F64, sel: Bools | None, n: int, weights: MatchingWeights) -> Bools:
    """The rows that may be ranked: the hard filters, and under /3 a need (relevance > 0 after rounding)."""
    ranked = np.ones(n, dtype=np.bool_) if sel is None else sel.copy()
    if weights.need_first:
        ranked &= np.round(rel, weights.rank_decimals) > 0
    return ranked


def _overridden_raw(raw: F64, im: ImpactMatrix, vector: F64, overrides: ImpactOverrides | None) -> F64:
    """raw + sum over the overridden cells of (new - old impact) x vector[col]."""
    if overrides is None or overrides.row.shape[0] == 0:
        return raw
    old = overrides.base
    if old is None:
        old = np.asarray(im.values[overrides.row, overrides.col], dtype=np.float64)
    delta = (overrides.value - old) * vector[overrides.col]
    return raw + np.bincount(overrides.row, weights=delta, minlength=raw.shape[0])


def _row_impacts(im: ImpactMatrix, overrides: ImpactOverrides | None, i: int) -> F64:
    """Solution i's impacts with its overridden cells applied (for the reasons of a top result)."""
    row = np.array(im.values[i], dtype=np.float64)
    if overrides is not None and overrides.row.shape[0]:
        lo, hi = np.searchsorted(overrides.row, [i, i + 1])
        row[overrides.col[lo:hi]] = overrides.value[lo:hi]
    return row


def solution_relevance(
    gaps: npt.ArrayLike,
    confidence: npt.ArrayLike,
    kpi_weights: npt.ArrayLike | None,
    impacts: ImpactMatrix | npt.ArrayLike,
    similar_evidence: npt.ArrayLike | None,
    weights: MatchingWeights = DEFAULT_WEIGHTS,
    *,
    tie_keys: npt.ArrayLike | None = None,
    ids: Sequence[str | int] | None = None,
    mask: npt.ArrayLike | None = None,
    top_k: int = 20,
    overrides: ImpactOverrides | None = None,
) -> RelevanceResult:
    """Relevance of every solution to one city, and the top_k with their reasons.

    gaps (K,): the city's gaps, NaN where not reported; confidence (K,); kpi_weights (K,) or None for the
    default; impacts (S, K) or a prepared `ImpactMatrix` (fast path: pass one built once); similar_evidence
    (S,) or None; tie_keys (S,) from `stable_hash`, or ids (S,) to hash on the fly (slow at scale);
    mask (S,) the hard filters (published, offered in the country, language): False rows are never in top;
    overrides: cells whose impact differs for this city (learned effects), and the claims' normaliser.
    Under /3 a row without need is never in top either (`RelevanceResult.ranked`).
    """
    im = impacts if isinstance(impacts, ImpactMatrix) else ImpactMatrix.from_dense(impacts)
    n_sol, n_kpi = im.shape
    g, reported = _clean_gaps(_vector(gaps, n_kpi, "gaps"))
    c = _clean_confidence(_vector(confidence, n_kpi, "confidence"), reported)
    w = _kpi_weights(kpi_weights, (n_kpi,), weights)
    keys = _tie_keys(n_sol, tie_keys, ids)
    sel = None if mask is None else _bool_vector(mask, n_sol, "mask")
    beta = weights.similar_evidence_weight

    need = w * g * c
    raw = _overridden_raw(im.dot(need), im, need, overrides)
    norm = im.normalisers(w) if overrides is None or overrides.normaliser is None else overrides.normaliser
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(norm > 0, np.clip(raw / norm, 0.0, 1.0), 0.0)
    scores, kpi_term, similar_raw, similar_term = _combine(rel, similar_evidence, n_sol, weights)
    ranked = _ranked(rel, sel, n_sol, weights)

    idx = top_k_indices(scores, keys, top_k, ranked if weights.need_first else sel, weights.rank_decimals)

    def rows_inputs(rows: Ints) -> list[_RowInputs]:
        out = []
        for i in rows.tolist():
            row = _row_impacts(im, overrides, i)
            cols = np.flatnonzero(row > 0)
            out.append(
                (
                    cols.tolist(),
                    g[cols].tolist(),
                    reported[cols].tolist(),
                    c[cols].tolist(),
                    w[cols].tolist(),
                    row[cols].tolist(),
                )
            )
        return out

    top = _relevance_top(idx, scores, rel, kpi_term, similar_raw, similar_term, norm, ids, rows_inputs, beta)
    return RelevanceResult(scores, kpi_term, similar_term, top, weights.method_version, rel, ranked)


def city_leads(
    impact: npt.ArrayLike,
    gaps: npt.ArrayLike,
    confidence: npt.ArrayLike,
    kpi_weights: npt.ArrayLike | None,
    similar_evidence: npt.ArrayLike | None,
    weights: MatchingWeights = DEFAULT_WEIGHTS,
    *,
    tie_keys: npt.ArrayLike | None = None,
    ids: Sequence[str | int] | None = None,
    mask: npt.ArrayLike | None = None,
    top_k: int = 20,
    normaliser: float | None = None,
    learned: tuple[Ints, F64] | None = None,
) -> RelevanceResult:
    """The relevance of one solution to every city (a vendor's leads): the same formula as
    `solution_relevance`, so score[c] here equals that solution's score for city c there.

    impact (K,): the solution's impacts, or (C, K): per city; learned: (columns, (C, n) impacts) that
    replace `impact` on those columns per city (effects learned from outcomes, weighed by the similarity of
    each outcome's city to that city); gaps and confidence (C, K), NaN where not reported; kpi_weights
    (K,), (C, K) or None; similar_evidence (C,): per city, the similarity-weighted count of this solution's
    deployments and case studies in cities like it; mask (C,): e.g. cities whose data is public;
    normaliser: the claims' D for the KPI weights in use (None: computed from `impact`, which must be (K,)).
    """
    gm = np.asarray(gaps)
    cm = np.asarray(confidence)
    if gm.ndim != 2 or cm.shape != gm.shape:
        raise ValueError(f"gaps and confidence must be (cities, KPIs) of the same shape, got {gm.shape}, {cm.shape}")
    n_city, n_kpi = gm.shape
    imp = np.asarray(impact, dtype=np.float64)
    if imp.shape not in ((n_kpi,), (n_city, n_kpi)):
        raise ValueError(f"impact must have shape ({n_kpi},) or ({n_city}, {n_kpi}), got {imp.shape}")
    imp = _clean_impacts(imp)
    w = _kpi_weights(kpi_weights, (n_city, n_kpi), weights)
    keys = _tie_keys(n_city, tie_keys, ids)
    sel = None if mask is None else _bool_vector(mask, n_city, "mask")
    beta = weights.similar_evidence_weight

    cols, ic = _lead_impacts(imp, learned, n_city)
    g, reported = _clean_gaps(np.asarray(gm[:, cols], dtype=np.float64))
    c = _clean_confidence(np.asarray(cm[:, cols], dtype=np.float64), reported)
    wc = w[..., cols]
    raw = np.einsum("ij,ij->i", wc * g * c, ic) if ic.ndim == 2 else (wc * g * c) @ ic
    if normaliser is not None:
        norm = np.full(n_city, float(normaliser), dtype=np.float64)
    else:
        if ic.ndim == 2:
            raise ValueError("per-city impacts need the claims' normaliser")
        main = float(ic.max()) if cols.size else 0.0
        weighted = wc @ ic if wc.ndim == 2 else np.full(n_city, float(wc @ ic), dtype=np.float64)
        norm = weighted / main if main > 0 else np.zeros(n_city, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(norm > 0, np.clip(raw / norm, 0.0, 1.0), 0.0)
    scores, kpi_term, similar_raw, similar_term = _combine(rel, similar_evidence, n_city, weights)
    ranked = _ranked(rel, sel, n_city, weights)

    idx = top_k_indices(scores, keys, top_k, ranked if weights.need_first else sel, weights.rank_decimals)

    def rows_inputs(rows: Ints) -> list[_RowInputs]:
        # Every top row at once: the same columns for all of them.
        col_list = cols.tolist()
        imp_rows = ic[rows].tolist() if ic.ndim == 2 else [ic.tolist()] * rows.shape[0]
        w_rows = wc[rows].tolist() if wc.ndim == 2 else [wc.tolist()] * rows.shape[0]
        return [
            (col_list, g_i, r_i, c_i, w_i, i_i)
            for g_i, r_i, c_i, w_i, i_i in zip(
                g[rows].tolist(), reported[rows].tolist(), c[rows].tolist(), w_rows, imp_rows, strict=True
            )
        ]

    top = _relevance_top(idx, scores, rel, kpi_term, similar_raw, similar_term, norm, ids, rows_inputs, beta)
    return RelevanceResult(scores, kpi_term, similar_term, top, weights.method_version, rel, ranked)


def _lead_impacts(imp: F64, learned: tuple[Ints, F64] | None, n_city: int) -> tuple[Ints, F64]:
    """(the columns with an impact anywhere, the impacts on them: (n,) or (C, n) per city). Learned
    columns replace the solution's row there, city by city; only these few columns are ever materialised."""
    if learned is None:
        cols = np.flatnonzero(imp.max(axis=0) > 0) if imp.ndim == 2 else np.flatnonzero(imp > 0)
        return cols, imp[..., cols]
    lcols, values = learned
    v = np.asarray(values, dtype=np.float64)
    if imp.ndim != 1 or v.shape != (n_city, lcols.shape[0]):
        raise ValueError(f"learned impacts go with a (K,) impact and have shape ({n_city}, {lcols.shape[0]})")
    cols = np.union1d(np.flatnonzero(imp > 0), lcols).astype(np.intp)
    ic = np.repeat(imp[cols][None, :], n_city, axis=0)
    ic[:, np.searchsorted(cols, lcols)] = np.clip(v, 0.0, 1.0)
    return cols, ic


def _bool_vector(x: npt.ArrayLike, n: int, name: str) -> Bools:
    a = np.asarray(x, dtype=bool)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {a.shape}")
    return a


# ---------------------------------------------------------------------------------------------------------
# City context and similar-city evidence.
# ---------------------------------------------------------------------------------------------------------

_INCOME_ALIASES: Final = {
    "l": 0, "low": 0, "lic": 0, "low_income": 0,
    "lm": 1, "lmc": 1, "lower_middle": 1, "lower_middle_income": 1,
    "um": 2, "umc": 2, "upper_middle": 2, "upper_middle_income": 2,
    "h": 3, "hic": 3, "high": 3, "high_income": 3,
}  # fmt: skip


def _norm_label(label: str | None) -> str:
    return (label or "").strip().lower().replace("-", "_").replace(" ", "_")


def _codes(labels: Sequence[str | None]) -> Ints:
    table: dict[str, int] = {}
    return np.fromiter(
        (table.setdefault(s.strip(), len(table)) if s and s.strip() else -1 for s in labels),
        dtype=np.intp,
        count=len(labels),
    )


@dataclass(frozen=True, slots=True, eq=False)
class CityContext:
    """Per-city context for similarity, as integer codes (-1 = unknown) and populations (NaN = unknown)."""

    population: F64
    region: Ints
    """UN region code; equal codes mean the same region."""
    climate: Ints
    """Koeppen class code."""
    climate_group: Ints
    """Koeppen main group code (A, B, C, D, E): partial credit for different classes of one group."""
    income: Ints
    """Ordered income group, 0 (low) .. income_groups - 1 (high)."""
    population_known: Bools = field(init=False, repr=False)
    """Finite and positive population (derived once, not per similarity)."""
    log_population: F64 = field(init=False, repr=False)
    """ln(population) where known, 0 elsewhere."""
    income_unknown: int = field(init=False, repr=False)
    """One past the largest income code."""
    income_slot: Ints = field(init=False, repr=False)
    """The income code, or `income_unknown` where unknown: an index into a table over the codes."""

    def __post_init__(self) -> None:
        n = self.population.shape[0]
        for name in ("region", "climate", "climate_group", "income"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},)")
        pop = self.population
        valid = np.isfinite(pop) & (pop > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = np.where(valid, np.log(np.where(valid, pop, 1.0)), 0.0)
        object.__setattr__(self, "population_known", valid)
        object.__setattr__(self, "log_population", logp)
        unknown = max(int(self.income.max()) + 1, 0) if n else 0
        object.__setattr__(self, "income_unknown", unknown)
        object.__setattr__(self, "income_slot", np.where(self.income >= 0, self.income, unknown).astype(np.intp))

    @property
    def n_cities(self) -> int:
        return int(self.population.shape[0])

    @classmethod
    def from_labels(
        cls,
        population: Sequence[float | None] | npt.ArrayLike,
        region: Sequence[str | None],
        climate: Sequence[str | None],
        income: Sequence[str | None],
    ) -> CityContext:
        """From labels as stored: region names, Koeppen classes ("Cfb"; the main group is the first letter),
        and income groups (World Bank: "low", "lower_middle", "upper_middle", "high", or L/LM/UM/H, LIC/LMC/
        UMC/HIC); empty or None is unknown, and so is an income label not in that list."""
        raw_pop = np.asarray(population, dtype=object).ravel()
        pop = np.array([np.nan if p is None else p for p in raw_pop], dtype=np.float64)
        inc = np.fromiter((_INCOME_ALIASES.get(_norm_label(s), -1) for s in income), dtype=np.intp, count=len(income))
        return cls(
            population=pop,
            region=_codes(region),
            climate=_codes(climate),
            climate_group=_codes([(c or "").strip()[:1].upper() or None for c in climate]),
            income=inc,
        )


@dataclass(frozen=True, slots=True, eq=False)
class ContextArrays:
    """Context similarity of one city to every city, per part (each in [0, 1]) and weighted total."""

    population: F64
    region: F64
    climate: F64
    income: F64
    total: F64


def context_similarity(context: CityContext, city: int, weights: MatchingWeights = DEFAULT_WEIGHTS) -> ContextArrays:
    """Similarity of city `city` to every city: population 1 - |ln(p/p_q)| / ln(population_ratio_zero)
    (floored at 0), same UN region 1, same Koeppen class 1 (same main group `climate_group_credit`),
    income 1 - |step difference| / (income_groups - 1); an unknown on either side gives 0 for that part.
    total = weighted mean with `context_part_weights()`. Symmetric: sim(a, b) == sim(b, a)."""
    n = context.n_cities
    if not 0 <= city < n:
        raise IndexError(city)
    # One pass per part over the cities (log populations prepared with the context; income read from a
    # table over the few income codes): this runs once per match, and per evidence city for leads.
    valid, logp = context.population_known, context.log_population
    if valid[city]:
        distance = np.abs(logp - logp[city]) / np.log(weights.population_ratio_zero)
        pop_sim = np.clip(1.0 - distance, 0.0, 1.0)
        pop_sim[~valid] = 0.0
    else:
        pop_sim = np.zeros(n, dtype=np.float64)

    def same(codes: Ints) -> Bools | None:
        return None if codes[city] < 0 else np.equal(codes, codes[city])

    region = same(context.region)
    region_sim = np.zeros(n, dtype=np.float64) if region is None else region.astype(np.float64)
    climate, group = same(context.climate), same(context.climate_group)
    group_sim = np.zeros(n, dtype=np.float64) if group is None else np.where(group, weights.climate_group_credit, 0.0)
    climate_sim = group_sim if climate is None else np.where(climate, 1.0, group_sim)
    inc = context.income
    if inc[city] >= 0:
        codes = np.arange(context.income_unknown)
        step = np.abs(codes - inc[city]) / (weights.income_groups - 1)
        table = np.append(np.clip(1.0 - step, 0.0, 1.0), 0.0)  # each code's similarity, then the unknown's 0
        income_sim = table[context.income_slot]
    else:
        income_sim = np.zeros(n, dtype=np.float64)
    wp, wr, wc, wi = weights.context_part_weights()
    total = wp * pop_sim + wr * region_sim + wc * climate_sim + wi * income_sim
    return ContextArrays(pop_sim, region_sim, climate_sim, income_sim, total)


def similar_evidence(
    similarity: npt.ArrayLike,
    evidence_city: npt.ArrayLike,
    evidence_solution: npt.ArrayLike,
    n_solutions: int,
    evidence_weight: npt.ArrayLike | None = None,
    weights: MatchingWeights = DEFAULT_WEIGHTS,
) -> F64:
    """The `similar_evidence` input of `solution_relevance`: per solution, the sum over its deployments and
    case studies (one row each: city index, solution index, optional weight such as 2 for a case study with
    outcomes) of the similarity of that city to the requesting city, counting only cities at least
    `similar_city_min_similarity` alike. Leave out the requesting city's own rows if they should not count."""
    sim = np.asarray(similarity, dtype=np.float64)
    cities = np.asarray(evidence_city, dtype=np.intp)
    sols = np.asarray(evidence_solution, dtype=np.intp)
    if evidence_weight is None:
        ew = np.ones(cities.shape, dtype=np.float64)
    else:
        ew = np.asarray(evidence_weight, dtype=np.float64)
    if not (cities.shape == sols.shape == ew.shape) or cities.ndim != 1:
        raise ValueError("evidence arrays must be 1-D and of equal length")
    s = sim[cities]
    keep = np.isfinite(s) & (s >= weights.similar_city_min_similarity) & np.isfinite(ew) & (ew > 0)
    return np.bincount(sols[keep], weights=(s * ew)[keep], minlength=n_solutions).astype(np.float64)


# ---------------------------------------------------------------------------------------------------------
# Twin-city partners.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TwinKpi:
    """One KPI where one city is weak and the other strong: help = c_weak c_strong (a_strong - a_weak)."""

    kpi: int
    weak_achievement: float
    strong_achievement: float
    confidence: float
    """c_weak x c_strong."""
    help: float
    contribution: float


@dataclass(frozen=True, slots=True)
class Complementarity:
    score: float
    """mean(d_in, d_out) x ((1 - lambda) + lambda x balance), in [0, 1]."""
    contribution: float
    """Part weight x score; equals the sum of the KPI contributions of both directions."""
    partner_helps_city: float
    """d_in: sum of help over the city's weak KPIs / number of the city's weak KPIs."""
    city_helps_partner: float
    """d_out: the same, from the partner's weak KPIs."""
    balance: float
    """sqrt(d_in d_out) / mean(d_in, d_out): 1 both ways equally, 0 one way."""
    partner_helps_city_kpis: tuple[TwinKpi, ...]
    city_helps_partner_kpis: tuple[TwinKpi, ...]


@dataclass(frozen=True, slots=True)
class SharedCategory:
    category: int
    city_achievement: float
    partner_achievement: float
    contribution: float


@dataclass(frozen=True, slots=True)
class SharedChallenges:
    score: float
    """Jaccard index of the two cities' weak categories."""
    contribution: float
    categories: tuple[SharedCategory, ...]
    """Categories where both are weak."""
    weak_in_either: int


@dataclass(frozen=True, slots=True)
class ContextPart:
    name: str
    """population, region, climate or income."""
    similarity: float
    weight: float
    contribution: float
    city_value: float | None
    """Population, or the integer code of the region, climate class or income group; None if unknown."""
    partner_value: float | None


@dataclass(frozen=True, slots=True)
class ContextSimilarity:
    score: float
    contribution: float
    parts: tuple[ContextPart, ...]


@dataclass(frozen=True, slots=True)
class TwinMatch:
    """A partner with its reasons: complementarity, shared and context contributions sum to score."""

    index: int
    id: str | None
    score: float
    complementarity: Complementarity
    shared: SharedChallenges
    context: ContextSimilarity


@dataclass(frozen=True, slots=True, eq=False)
class TwinResult:
    city: int
    city_eligible: bool
    """False when the city itself reports too few KPIs: then there is no match."""
    scores: F64
    """Pair score with every city, in [0, 1]; symmetric between two cities. The city's own entry is
    computed but never eligible."""
    complementarity: F64
    shared: F64
    context: F64
    partner_helps_city: F64
    city_helps_partner: F64
    eligible: Bools
    """The hard filters: not the city, not already twinned, in `candidates`, enough KPIs on both sides, and
    under /3 complementarity or a shared weak category."""
    top: tuple[TwinMatch, ...]
    method_version: str


@dataclass(frozen=True, slots=True, eq=False)
class CityMatrix:
    """Every city's KPI state, prepared once per data version for twin matching (10,000 x 91 takes about
    60 MB): achievements, confidences, weak and strong masks and the per-category roll-up.

    Weak: a reported KPI with achievement a = 1 - g below `weak_below`; strong: at least `strong_from`.
    A KPI with no value (NaN gap) is neither, and its confidence is 0."""

    achievement: F64
    """(C, K) a = 1 - g, NaN where not reported."""
    confidence: F64
    """(C, K) in [0, 1]; 0 where not reported."""
    reported: Bools
    n_reported: Ints
    weak: Bools
    strong: Bools
    n_weak: Ints
    kpi_category: Ints
    """(K,) category index of each KPI."""
    category_achievement: F64
    """(C, Q) mean achievement of the reported KPIs of each category; NaN when none is reported."""
    weak_category: Bools
    """(C, Q) category achievement below `weak_below`."""
    n_weak_category: Ints
    weak_below: float
    strong_from: float
    help_in_terms: F64
    """(C, 2K) [strong x c x a, strong x c]: d_in x n_weak(city) = this @ [c_q w_q, -c_q a_q w_q]."""
    help_out_terms: F64
    """(C, 2K) [weak x c, weak x c x a]: d_out x n_weak(partner) = this @ [c_q a_q s_q, -c_q s_q]."""

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.achievement.shape[0]), int(self.achievement.shape[1]))

    @classmethod
    def from_arrays(
        cls,
        gaps: npt.ArrayLike,
        confidence: npt.ArrayLike,
        kpi_category: npt.ArrayLike,
        weights: MatchingWeights = DEFAULT_WEIGHTS,
    ) -> CityMatrix:
        """gaps and confidence (C, K), NaN where not reported; kpi_category (K,) category index per KPI (a
        category is a (dimension, sub-dimension, category) path: U4SSC repeats some names)."""
        gm = np.asarray(gaps, dtype=np.float64)
        if gm.ndim != 2:
            raise ValueError(f"gaps must be (cities, KPIs), got {gm.shape}")
        cm = np.asarray(confidence, dtype=np.float64)
        if cm.shape != gm.shape:
            raise ValueError(f"confidence must have shape {gm.shape}, got {cm.shape}")
        n_kpi = gm.shape[1]
        cats = np.asarray(kpi_category, dtype=np.intp)
        if cats.shape != (n_kpi,) or (n_kpi and cats.min() < 0):
            raise ValueError(f"kpi_category must have shape ({n_kpi},) and be >= 0")
        n_cat = int(cats.max()) + 1 if n_kpi else 0
        reported = np.isfinite(gm)
        ach = np.where(reported, 1.0 - np.clip(gm, 0.0, 1.0), np.nan)
        conf = _clean_confidence(cm, reported)
        weak = reported & (ach + EDGE_TOLERANCE < weights.weak_below)
        strong = reported & (ach + EDGE_TOLERANCE >= weights.strong_from)
        a0 = np.where(reported, ach, 0.0)
        cat_ach = mean_by_group(ach, cats, n_cat)
        weak_cat = np.isfinite(cat_ach) & (cat_ach + EDGE_TOLERANCE < weights.weak_below)
        strong_c = np.where(strong, conf, 0.0)
        weak_c = np.where(weak, conf, 0.0)
        return cls(
            achievement=ach,
            confidence=conf,
            reported=reported,
            n_reported=np.count_nonzero(reported, axis=1).astype(np.intp),
            weak=weak,
            strong=strong,
            n_weak=np.count_nonzero(weak, axis=1).astype(np.intp),
            kpi_category=cats,
            category_achievement=cat_ach,
            weak_category=weak_cat,
            n_weak_category=np.count_nonzero(weak_cat, axis=1).astype(np.intp),
            weak_below=weights.weak_below,
            strong_from=weights.strong_from,
            help_in_terms=np.ascontiguousarray(np.hstack([strong_c * a0, strong_c])),
            help_out_terms=np.ascontiguousarray(np.hstack([weak_c, weak_c * a0])),
        )


def twin_partners(
    city: int,
    cities: CityMatrix,
    context: CityContext,
    weights: MatchingWeights = DEFAULT_WEIGHTS,
    *,
    already_twinned: npt.ArrayLike | None = None,
    candidates: npt.ArrayLike | None = None,
    tie_keys: npt.ArrayLike | None = None,
    ids: Sequence[str | int] | None = None,
    top_k: int = 20,
) -> TwinResult:
    """Twin-city partners for `city` (a row index) among all cities of a prepared `CityMatrix`.

    already_twinned (C,): True for the city's current twins; candidates (C,): any other hard filter. Both
    cities must report at least `min_reported_kpis` KPIs.

    - complementarity: help_k(weak X, strong Y) = c_X,k c_Y,k (a_Y,k - a_X,k) on a KPI where X is weak and
      Y strong; d_in = sum of help where the city is weak and the partner strong / the city's weak count,
      d_out = the same the other way, over the partner's weak count; both in [0, 1];
      score = (1 - lambda) (d_in + d_out) / 2 + lambda sqrt(d_in d_out). At equal total help a pairing
      that helps both ways beats a one-way mentorship.
    - shared challenges: Jaccard index of the two cities' sets of weak categories.
    - context similarity: see `context_similarity`.
    score = weighted sum with `twin_part_weights()`: in [0, 1], and symmetric in the two cities.
    Under /3 a partner with complementarity 0 (neither helps the other) and no shared weak category is not
    eligible, however alike the two cities are.
    """
    n_city = cities.shape[0]
    if not 0 <= city < n_city:
        raise IndexError(city)
    if context.n_cities != n_city:
        raise ValueError("context must describe the same cities as the city matrix")
    if (cities.weak_below, cities.strong_from) != (weights.weak_below, weights.strong_from):
        raise ValueError("the city matrix was prepared with other weak/strong thresholds: rebuild it")
    keys = _tie_keys(n_city, tie_keys, ids)
    ach, conf = cities.achievement, cities.confidence
    n_weak = cities.n_weak

    # Complementarity: two matrix-vector products over the prepared terms.
    a_q = np.where(cities.reported[city], ach[city], 0.0)
    c_q = conf[city]
    wq = cities.weak[city].astype(np.float64)
    sq = cities.strong[city].astype(np.float64)
    raw_in = cities.help_in_terms @ np.concatenate([c_q * wq, -(c_q * a_q * wq)])
    raw_out = cities.help_out_terms @ np.concatenate([c_q * a_q * sq, -(c_q * sq)])
    nq = int(n_weak[city])
    d_in = np.clip(raw_in / nq, 0.0, 1.0) if nq else np.zeros(n_city, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_out = np.where(n_weak > 0, np.clip(raw_out / n_weak, 0.0, 1.0), 0.0)
    lam = weights.two_way_bonus
    mean_help = 0.5 * (d_in + d_out)
    with np.errstate(divide="ignore", invalid="ignore"):
        balance = np.where(mean_help > 0, np.minimum(np.sqrt(d_in * d_out) / mean_help, 1.0), 0.0)
    factor = (1.0 - lam) + lam * balance
    comp = mean_help * factor

    # Shared challenges: Jaccard index of the weak categories.
    weak_cat = cities.weak_category
    q_cats = np.flatnonzero(weak_cat[city])
    inter = np.count_nonzero(weak_cat[:, q_cats], axis=1)
    union = cities.n_weak_category + q_cats.shape[0] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        shared = np.where(union > 0, inter / union, 0.0)

    ctx = context_similarity(context, city, weights)
    w_comp, w_shared, w_ctx = weights.twin_part_weights()
    scores = w_comp * comp + w_shared * shared + w_ctx * ctx.total

    enough = cities.n_reported >= weights.min_reported_kpis
    eligible = enough & bool(enough[city])
    if weights.need_first:  # something to work on together: context alone never makes a partner
        eligible &= (comp > 0) | (shared > 0)
    eligible[city] = False
    if already_twinned is not None:
        eligible &= ~_bool_vector(already_twinned, n_city, "already_twinned")
    if candidates is not None:
        eligible &= _bool_vector(candidates, n_city, "candidates")

    idx = top_k_indices(scores, keys, top_k, eligible, weights.rank_decimals)
    q_weak = np.flatnonzero(cities.weak[city])
    q_strong = np.flatnonzero(cities.strong[city])
    # Reasons for the top results only: every partner's rows gathered at once, then plain Python numbers
    # (a few array operations per call, not a few dozen per partner).
    names = ("population", "region", "climate", "income")
    part_weights = weights.context_part_weights()
    parts = (ctx.population, ctx.region, ctx.climate, ctx.income)
    part_sims = list(zip(*(part[idx].tolist() for part in parts), strict=True))
    city_values = _context_values(context, np.array([city], dtype=np.intp))[0]
    partner_values = _context_values(context, idx)
    ach_p, conf_p = ach[idx], conf[idx]
    kpis_in = _twin_kpi_rows(q_weak, cities.strong[idx][:, q_weak], ach[city], ach_p, conf[city], conf_p, True)
    kpis_out = _twin_kpi_rows(q_strong, cities.weak[idx][:, q_strong], ach[city], ach_p, conf[city], conf_p, False)
    cats = q_cats.tolist()
    cats_q = cities.category_achievement[city, q_cats].tolist()
    cats_weak_p = weak_cat[idx][:, q_cats].tolist()
    cats_p = cities.category_achievement[idx][:, q_cats].tolist()
    gathered = zip(
        idx.tolist(),
        scores[idx].tolist(),
        factor[idx].tolist(),
        n_weak[idx].tolist(),
        union[idx].tolist(),
        comp[idx].tolist(),
        shared[idx].tolist(),
        ctx.total[idx].tolist(),
        d_in[idx].tolist(),
        d_out[idx].tolist(),
        balance[idx].tolist(),
        strict=True,
    )
    top = []
    for j, (p, score_p, f, n_weak_p, u, comp_p, shared_p, ctx_p, d_in_p, d_out_p, balance_p) in enumerate(gathered):
        scale_in = w_comp * f * 0.5 / nq if nq else 0.0
        scale_out = w_comp * f * 0.5 / n_weak_p if n_weak_p else 0.0
        top.append(
            TwinMatch(
                index=p,
                id=_label(ids, p),
                score=score_p,
                complementarity=Complementarity(
                    score=comp_p,
                    contribution=w_comp * comp_p,
                    partner_helps_city=d_in_p,
                    city_helps_partner=d_out_p,
                    balance=balance_p,
                    partner_helps_city_kpis=_twin_kpis(kpis_in[j], scale_in),
                    city_helps_partner_kpis=_twin_kpis(kpis_out[j], scale_out),
                ),
                shared=SharedChallenges(
                    score=shared_p,
                    contribution=w_shared * shared_p,
                    categories=tuple(
                        SharedCategory(
                            category=k, city_achievement=a_c, partner_achievement=a_p, contribution=w_shared / u
                        )
                        for k, both, a_c, a_p in zip(cats, cats_weak_p[j], cats_q, cats_p[j], strict=True)
                        if both
                    ),
                    weak_in_either=u,
                ),
                context=ContextSimilarity(
                    score=ctx_p,
                    contribution=w_ctx * ctx_p,
                    parts=tuple(
                        ContextPart(
                            name=name,
                            similarity=sim,
                            weight=wpart,
                            contribution=w_ctx * wpart * sim,
                            city_value=city_value,
                            partner_value=partner_value,
                        )
                        for name, sim, wpart, city_value, partner_value in zip(
                            names, part_sims[j], part_weights, city_values, partner_values[j], strict=True
                        )
                    ),
                ),
            )
        )
    return TwinResult(
        city=city,
        city_eligible=bool(enough[city]),
        scores=scores,
        complementarity=comp,
        shared=shared,
        context=ctx.total,
        partner_helps_city=d_in,
        city_helps_partner=d_out,
        eligible=eligible,
        top=tuple(top),
        method_version=weights.method_version,
    )


_KpiRow = tuple[float, int, float, float, float]
"""(help, KPI column, weak achievement, strong achievement, confidence)."""


def _twin_kpi_rows(
    cols: Ints,
    partner_has: Bools,
    city_ach: F64,
    partner_ach: F64,
    city_conf: F64,
    partner_conf: F64,
    city_is_weak: bool,
) -> list[list[_KpiRow]]:
    """For each top partner (rows of partner_ach and partner_conf, (k, K)), the KPIs of `cols` where
    partner_has (k, len(cols)) holds, largest help first, then by KPI: help = c_weak c_strong (a_strong -
    a_weak), with the city weak on `cols` when city_is_weak (it helps the partner otherwise)."""
    a_c, c_c = city_ach[cols], city_conf[cols]
    a_p, c_p = partner_ach[:, cols], partner_conf[:, cols]
    conf = c_c * c_p if city_is_weak else c_p * c_c
    help_ = conf * (a_p - a_c) if city_is_weak else conf * (a_c - a_p)
    weak_a, strong_a = (
        (np.broadcast_to(a_c, a_p.shape), a_p) if city_is_weak else (a_p, np.broadcast_to(a_c, a_p.shape))
    )
    col_list = cols.tolist()
    out = []
    for has, h_row, aw_row, as_row, c_row in zip(
        partner_has.tolist(), help_.tolist(), weak_a.tolist(), strong_a.tolist(), conf.tolist(), strict=True
    ):
        rows = [
            (h, k, aw, a_s, c)
            for k, m, h, aw, a_s, c in zip(col_list, has, h_row, aw_row, as_row, c_row, strict=True)
            if m
        ]
        rows.sort(key=lambda r: (-r[0], r[1]))
        out.append(rows)
    return out


def _twin_kpis(rows: list[_KpiRow], scale: float) -> tuple[TwinKpi, ...]:
    return tuple(
        TwinKpi(kpi=k, weak_achievement=aw, strong_achievement=a_s, confidence=c, help=h, contribution=scale * h)
        for h, k, aw, a_s, c in rows
    )


def _context_values(context: CityContext, rows: Ints) -> list[tuple[float | None, ...]]:
    """Population, and the region, climate and income codes (as floats), of each of `rows`; None where
    unknown."""
    pops = context.population[rows].tolist()
    codes = zip(
        context.region[rows].tolist(), context.climate[rows].tolist(), context.income[rows].tolist(), strict=True
    )
    return [
        (p if p == p and p > 0 else None, *(float(c) if c >= 0 else None for c in cs))
        for p, cs in zip(pops, codes, strict=True)
    ]
