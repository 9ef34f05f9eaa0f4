"""Learned effects for the matching store (u4ssc-match/3): the case studies' KPI outcomes, turned once per
snapshot into what the per-request estimate needs (`app.matching.outcomes` has the formulas).

- Each published case study with a city, for each listing it names and each KPI outcome it measured, gives
  one outcome row: the observed share of the distance to the benchmark closed (r), its quality weight (q),
  the case study's city, and the listing's claim-target cell it bears on: the listing's claim on that data
  point if it has one, else its claim on the KPI as a whole, else the data point's own column (if some claim
  names it) or the KPI's. A case study that names several listings is attributed KPI by KPI: an outcome
  counts for a listing that claims an effect on that KPI (on any of its data points); one the case study
  names alone takes all of its outcomes (an outcome on a KPI it does not claim: source `outcomes`).
- Cells with outcomes of their own become `OutcomeCells` (weighed by city similarity per request).
- Claims without an outcome of their own borrow the pooled outcomes of their categories on the same
  target; that blend is city-independent and goes into the impact matrix here.
- The normaliser D of every listing is its claims' (`ImpactMatrix.normalisers` of the claim matrix); a
  listing with no claim at all counts each cell it has outcomes on as a full claim.

No arithmetic of its own beyond shaping: the blend is `app.matching.outcomes.blend`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlmodel import Session

from app.matches.sections import Cover, section, table
from app.matching import ImpactMatrix, MatchingWeights, OutcomeCells
from app.matching.outcomes import blend, observed_shares, prior, quality_weights, years_in_order
from app.moderation.models import ContentKind
from app.moderation.visibility import MODERATED_ITEM_COVERS, not_hidden

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Learned:
    """What the store keeps for the learned effects of one snapshot."""

    cells: OutcomeCells
    """Cells with outcomes of their own (per-request estimate)."""
    cell_index: dict[tuple[int, int], int]
    """(listing row, target) -> cell."""
    cell_count: Ints
    """Outcome rows per cell."""
    pooled: dict[tuple[int, int], tuple[float, float, int]] = field(default_factory=dict)
    """(listing row, target) -> (sum q', sum q' r, outcomes) borrowed from its categories."""
    normaliser: F64 | None = None
    """(S,) D of every listing, from its claims."""

    @classmethod
    def none(cls) -> Learned:
        return cls(OutcomeCells.empty(), {}, np.zeros(0, dtype=np.intp))


@dataclass(frozen=True, slots=True)
class ClaimArrays:
    sol: Ints
    target: Ints
    effect: F64
    level: npt.NDArray[np.int8]


_table = table

_OUTCOMES: Final[Mapping[str, Cover]] = {
    "id": "key", "case_study_id": "sum", "kpi_id": "sum", "data_point_id": "sum", "value_before": "sum",
    "value_after": "sum", "year_before": "sum", "year_after": "sum",
}  # fmt: skip
_CASE_STUDIES: Final[Mapping[str, Cover]] = {"id": "key", "city_id": "row", "status": "coded"}


@section(
    "learned: outcomes",
    {
        "case_study_outcome": _OUTCOMES,
        "case_study": _CASE_STUDIES,
        "case_study_solution": {"solution_id": "sum", "case_study_id": "sum"},
        "moderated_item": MODERATED_ITEM_COVERS,
    },
)
def _outcome_rows(conn: Session) -> list[Any]:
    out, cs, css = _table("case_study_outcome"), _table("case_study"), _table("case_study_solution")
    return list(
        conn.execute(
            sa.select(
                css.c.solution_id, cs.c.city_id, out.c.kpi_id, out.c.data_point_id, out.c.value_before,
                out.c.value_after, out.c.year_before, out.c.year_after, cs.c.id,
            )
            .select_from(out.join(cs, cs.c.id == out.c.case_study_id).join(css, css.c.case_study_id == cs.c.id))
            .where(cs.c.status == "published", cs.c.city_id.is_not(None), not_hidden(ContentKind.case_study, cs.c.id))
            .order_by(out.c.id, css.c.solution_id)
        ).all()
    )  # fmt: skip


@section(
    "learned: observed quality",
    {
        "case_study_outcome": _OUTCOMES,
        "case_study": _CASE_STUDIES,
        "kpi_observation": {"city_id": "row", "data_point_id": "row", "year": "sum", "data_quality": "row",
                            "verified": "row"},
        "kpi_data_point": {"id": "key", "kpi_id": "sum"},
    },
)  # fmt: skip
def _observed_quality(conn: Session) -> dict[tuple[int, int, int], tuple[str, bool]]:
    """(city id, data point id, year) -> (U4SSC data quality, verified) of the case-study cities' own
    observations in the years their outcomes name: the quality of the before and after values."""
    out, cs, obs, dp = (_table(n) for n in ("case_study_outcome", "case_study", "kpi_observation", "kpi_data_point"))
    needed = (
        sa.select(cs.c.city_id, out.c.kpi_id, out.c.year_before, out.c.year_after)
        .select_from(out.join(cs, cs.c.id == out.c.case_study_id))
        .where(cs.c.status == "published", cs.c.city_id.is_not(None))
        .distinct()
        .subquery()
    )
    rows = conn.execute(
        sa.select(obs.c.city_id, obs.c.data_point_id, obs.c.year, obs.c.data_quality, obs.c.verified)
        .select_from(
            obs.join(dp, dp.c.id == obs.c.data_point_id).join(
                needed,
                (needed.c.city_id == obs.c.city_id)
                & (needed.c.kpi_id == dp.c.kpi_id)
                & ((obs.c.year == needed.c.year_before) | (obs.c.year == needed.c.year_after)),
            )
        )
        .distinct()
    ).all()
    return {(int(r[0]), int(r[1]), int(r[2])): (str(getattr(r[3], "value", r[3])), bool(r[4])) for r in rows}


def _outcome_quality(
    rows: list[Any],
    dp: Ints,
    dp_ids: I64,
    observed: dict[tuple[int, int, int], tuple[str, bool]],
    weights: MatchingWeights,
) -> F64:
    """q_j: the lower confidence of the city's own observations of the before and after values (U4SSC
    quality x verified factor), when its time series holds them; else the outcome's dating (both years
    known: outcome_quality_dated, else _undated)."""
    y0 = [r[6] for r in rows]
    y1 = [r[7] for r in rows]
    fallback = quality_weights(
        np.asarray([np.nan if y is None else y for y in y0], dtype=np.float64),
        np.asarray([np.nan if y is None else y for y in y1], dtype=np.float64),
        weights,
    )
    q = fallback.copy()
    for j, (r, d) in enumerate(zip(rows, dp.tolist(), strict=True)):
        if d < 0 or r[1] is None:
            continue
        found = [observed.get((int(r[1]), int(dp_ids[d]), int(y))) for y in (r[6], r[7]) if y is not None]
        levels = [weights.confidence(f[0], f[1]) for f in found if f is not None]
        if levels:
            q[j] = min(levels)
    return q  # fmt: skip


def load_learned(
    conn: Session,
    weights: MatchingWeights,
    *,
    index: Any,
    sol_ids: I64,
    city_ids: I64,
    kpi_cols: Any,
    dp_ids: I64,
    dp_kpi: Ints,
    dp_benchmark: F64,
    dp_direction: npt.NDArray[np.int8],
    target_of_dp: Ints,
    target_kpi: Ints,
    claims: ClaimArrays,
    categories: dict[int, list[str]],
    prior_impacts: ImpactMatrix,
) -> tuple[Learned, F64 | None]:
    """The learned effects, and the dense base impacts (claims, pooled blends applied) or None when no
    outcome changes any (then the claim matrix serves as it is)."""
    rows = _outcome_rows(conn)
    n_target = prior_impacts.shape[1]
    normaliser = prior_impacts.normalisers(np.full(n_target, weights.default_kpi_weight))
    if not rows:
        return Learned(OutcomeCells.empty(), {}, np.zeros(0, dtype=np.intp), {}, normaliser), None
    srow, sfound = index(sol_ids, [r[0] for r in rows])
    crow, cfound = index(city_ids, [r[1] for r in rows])
    kcol, kfound = kpi_cols([r[2] for r in rows])
    dp = _data_points(rows, index(dp_ids, [-1 if r[3] is None else r[3] for r in rows]), kcol, dp_kpi)
    y0 = np.asarray([np.nan if r[6] is None else r[6] for r in rows], dtype=np.float64)
    y1 = np.asarray([np.nan if r[7] is None else r[7] for r in rows], dtype=np.float64)
    dpc = np.where(dp >= 0, dp, 0)
    share = observed_shares(
        np.asarray([r[4] for r in rows], dtype=np.float64),
        np.asarray([r[5] for r in rows], dtype=np.float64),
        dp_benchmark[dpc],
        dp_direction[dpc],
    )
    ok = sfound & cfound & kfound & (dp >= 0) & np.isfinite(share) & years_in_order(y0, y1)
    quality = _outcome_quality(rows, dp, dp_ids, _observed_quality(conn), weights)
    claim_of = _best_claims(claims, weights)
    keep = np.flatnonzero(ok & _attributed(rows, srow, sfound, kcol, claim_of, target_kpi))

    def cell_of(s: int, k: int, d: int) -> int:
        t_dp = int(target_of_dp[d])
        if t_dp >= 0 and (s, t_dp) in claim_of:
            return t_dp
        if (s, k) in claim_of:
            return k
        return t_dp if t_dp >= 0 else k

    targets = [cell_of(int(srow[j]), int(kcol[j]), int(dp[j])) for j in keep.tolist()]
    own_sol = srow[keep]
    cells, cell_index = _cells(weights, own_sol, targets, crow[keep], share[keep], quality[keep], claims, claim_of)
    cell_count = np.bincount(cells.outcome_cell, minlength=cells.n_cells).astype(np.intp)
    normaliser = _without_claims(normaliser, cells.row, weights)
    pooled, base = _pooled(
        weights, own_sol, np.asarray(targets, dtype=np.intp), share[keep], quality[keep],
        categories, claims, claim_of, cell_index, prior_impacts,
    )  # fmt: skip
    return Learned(cells, cell_index, cell_count, pooled, normaliser), base


def _data_points(rows: list[Any], named: tuple[Ints, Bools], kcol: Ints, dp_kpi: Ints) -> Ints:
    """The data point row of each outcome: the one it names (if of its KPI), or the KPI's only one when it
    names none (a KPI measured as a whole); -1 otherwise (a KPI of several points needs the point)."""
    dp_of_kpi: dict[int, list[int]] = defaultdict(list)
    for d, k in enumerate(dp_kpi.tolist()):
        dp_of_kpi[k].append(d)
    rows_dp, found = named
    dp = np.full(len(rows), -1, dtype=np.intp)
    for j, (k, d, f) in enumerate(zip(kcol.tolist(), rows_dp.tolist(), found.tolist(), strict=True)):
        if f and dp_kpi[d] == k:
            dp[j] = d
        elif rows[j][3] is None and len(dp_of_kpi.get(k, [])) == 1:
            dp[j] = dp_of_kpi[k][0]
    return dp


def _best_claims(claims: ClaimArrays, weights: MatchingWeights) -> dict[tuple[int, int], int]:
    """(listing, target) -> its claim; of two on one cell the larger impact wins, as in the matrix."""
    table = weights.evidence_table()
    claim_of: dict[tuple[int, int], int] = {}
    for j, (s, t) in enumerate(zip(claims.sol.tolist(), claims.target.tolist(), strict=True)):
        j0 = claim_of.get((s, t))
        if j0 is None or claims.effect[j] * table[claims.level[j]] > claims.effect[j0] * table[claims.level[j0]]:
            claim_of[(s, t)] = j
    return claim_of


def _attributed(
    rows: list[Any], srow: Ints, sfound: Bools, kcol: Ints, claim_of: dict[tuple[int, int], int], target_kpi: Ints
) -> Bools:
    """Which outcome rows count for their listing: all of them when the case study names it alone, else
    those on a KPI the listing claims (a multi-listing case study credits each with what it claims)."""
    named_by: dict[int, set[int]] = defaultdict(set)
    for r, sr, f in zip(rows, srow.tolist(), sfound.tolist(), strict=True):
        if f:
            named_by[int(r[8])].add(sr)
    claimed_kpi = {(s, int(target_kpi[t])) for s, t in claim_of}
    return np.asarray(
        [
            len(named_by[int(r[8])]) == 1 or (int(s), int(k)) in claimed_kpi
            for r, s, k in zip(rows, srow, kcol, strict=True)
        ],
        dtype=np.bool_,
    )


def _cells(
    weights: MatchingWeights,
    sol: Ints,
    targets: list[int],
    city: Ints,
    share: F64,
    quality: F64,
    claims: ClaimArrays,
    claim_of: dict[tuple[int, int], int],
) -> tuple[OutcomeCells, dict[tuple[int, int], int]]:
    """The cells (listing, target) with outcomes of their own, sorted by listing, each with its prior."""
    keys = sorted(set(zip(sol.tolist(), targets, strict=True)))
    cell_index = {key: i for i, key in enumerate(keys)}
    claim_j = [claim_of.get(key, -1) for key in keys]
    effect = np.asarray([claims.effect[j] if j >= 0 else 0.0 for j in claim_j], dtype=np.float64)
    level = np.asarray([int(claims.level[j]) if j >= 0 else -1 for j in claim_j], dtype=np.intp)
    m0, n0 = prior(effect, level, weights)
    cells = OutcomeCells(
        row=np.asarray([s for s, _ in keys], dtype=np.intp),
        col=np.asarray([t for _, t in keys], dtype=np.intp),
        prior_mean=m0,
        prior_strength=n0,
        has_claim=level >= 0,
        outcome_cell=np.asarray(
            [cell_index[(s, t)] for s, t in zip(sol.tolist(), targets, strict=True)], dtype=np.intp
        ),
        outcome_city=city.astype(np.intp),
        outcome_share=share,
        outcome_quality=quality,
    )
    return cells, cell_index


def _without_claims(normaliser: F64, cell_row: Ints, weights: MatchingWeights) -> F64:
    """D of a listing with no claim at all: each cell it has outcomes on counts as a full claim."""
    no_claim = cell_row[normaliser[cell_row] <= 0] if cell_row.size else cell_row
    if not no_claim.size:
        return normaliser
    out = normaliser.copy()
    np.add.at(out, no_claim, weights.default_kpi_weight)
    return out


def _pooled(
    weights: MatchingWeights,
    sol: Ints,
    target: Ints,
    share: F64,
    quality: F64,
    categories: dict[int, list[str]],
    claims: ClaimArrays,
    claim_of: dict[tuple[int, int], int],
    cell_index: dict[tuple[int, int], int],
    prior_impacts: ImpactMatrix,
) -> tuple[dict[tuple[int, int], tuple[float, float, int]], F64 | None]:
    """Per category x target, the outcomes of its listings (each split between its listing's categories);
    every claim without outcomes of its own on a pooled (category, target) blends with them."""
    pools: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for s, t, r, q in zip(sol.tolist(), target.tolist(), share.tolist(), quality.tolist(), strict=True):
        cats = categories.get(s, [])
        for cat in cats:
            u = q * weights.outcome_pooled_weight / len(cats)
            pool = pools[(cat, t)]
            pool[0] += u
            pool[1] += u * r
            pool[2] += 1
    if not pools:
        return {}, None
    pooled: dict[tuple[int, int], tuple[float, float, int]] = {}
    for s, t in claim_of:
        if (s, t) in cell_index:
            continue  # outcomes of its own
        sums = [pools[(cat, t)] for cat in categories.get(s, []) if (cat, t) in pools]
        if sums:
            pooled[(s, t)] = (sum(p[0] for p in sums), sum(p[1] for p in sums), int(sum(p[2] for p in sums)))
    if not pooled:
        return {}, None
    keys = list(pooled)
    js = [claim_of[k] for k in keys]
    m0, n0 = prior(claims.effect[js], claims.level[js].astype(np.intp), weights)
    w = np.asarray([pooled[k][0] for k in keys], dtype=np.float64)
    wr = np.asarray([pooled[k][1] for k in keys], dtype=np.float64)
    dense = np.array(prior_impacts.values, dtype=np.float64)
    dense[[s for s, _ in keys], [t for _, t in keys]] = blend(m0, n0, w, wr)
    return pooled, dense
