"""Cities for a solution, a vendor's leads (docs/architecture.md §7): the cities whose needs the listing's
claims (or learned effects) meet, ranked on the snapshot, with reasons."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlmodel import Session

from app.auth.principal import Principal
from app.core.config import Settings
from app.core.errors import NotFound
from app.matches.schemas import CityLeadOut, CityLeadsOut, LeadScope
from app.matches.service.shared import (
    F64,
    Ints,
    OwnSums,
    city_ref,
    current_snapshot,
    evidence_items,
    relevance_reasons,
    solution_ref,
    visible_solution,
)
from app.matches.service.solutions_for_city import similarity_to
from app.matches.store import Snapshot
from app.matching import city_leads
from app.matching.outcomes import blend


def similar_evidence_for_solution(snap: Snapshot, sol: int) -> tuple[F64, dict[int, F64]]:
    """x per city for solution `sol`: each of its evidence rows counts for the cities like its city (not
    for its own); and the similarity of each evidence city to every city, for the reasons."""
    n_city = snap.city_ids.shape[0]
    ev = snap.evidence
    lo, hi = int(ev.start[sol]), int(ev.start[sol + 1])
    where = ev.city[lo:hi].tolist()
    sims = {c: similarity_to(snap, c) for c in dict.fromkeys(where)}  # once per evidence city
    x = np.zeros(n_city, dtype=np.float64)
    for r, c in zip(range(lo, hi), where, strict=True):
        weight = ev.weight[r]
        if weight > 0:  # (a row of weight <= 0 counts for no city: skipping it leaves every sum as it is)
            s = sims[c]
            counted = np.where(s >= snap.weights.similar_city_min_similarity, s * weight, 0.0)
            counted[c] = 0.0
            x += counted
    return x, sims


def learned_for_leads(
    snap: Snapshot, sol: int, sims: dict[int, F64]
) -> tuple[tuple[Ints, F64] | None, Callable[[int], OwnSums]]:
    """The listing's learned impacts for every city: (its outcome cells' columns, (C, n) estimates, each
    learned for that city as `learned_overrides` learns it for one), None when it has no outcome of its
    own; and each city's own-outcome sums for the reasons. `sims` (evidence city -> similarity to every
    city) is extended with the outcomes' cities."""
    cells = snap.learned.cells
    lo, hi = np.searchsorted(cells.row, [sol, sol + 1]).tolist()
    if not snap.weights.need_first or lo == hi:
        return None, lambda _c: {}
    rows = np.flatnonzero((cells.outcome_cell >= lo) & (cells.outcome_cell < hi))
    for c in dict.fromkeys(cells.outcome_city[rows].tolist()):
        if c not in sims:
            sims[c] = similarity_to(snap, c)
    n_city, n_cells = snap.city_ids.shape[0], hi - lo
    weight = np.zeros((n_city, n_cells), dtype=np.float64)
    weighted = np.zeros((n_city, n_cells), dtype=np.float64)
    for j in rows.tolist():  # a listing's own outcomes: a handful
        u = cells.outcome_quality[j] * sims[int(cells.outcome_city[j])]
        weight[:, cells.outcome_cell[j] - lo] += u
        weighted[:, cells.outcome_cell[j] - lo] += u * cells.outcome_share[j]
    estimate = blend(cells.prior_mean[lo:hi][None, :], cells.prior_strength[lo:hi][None, :], weight, weighted)

    def own_sums(c: int) -> OwnSums:
        return {lo + i: (float(weight[c, i]), float(weighted[c, i])) for i in range(n_cells)}

    return (cells.col[lo:hi], estimate), own_sums


def rank_cities(snap: Snapshot, sol: int, *, limit: int, scope: LeadScope = LeadScope.offered) -> CityLeadsOut:
    mask = snap.city_public.copy()
    if scope is LeadScope.offered:
        mask &= snap.cities_in(snap.sol_countries.get(sol, ()))
    x, sims = similar_evidence_for_solution(snap, sol)
    learned, own_sums = learned_for_leads(snap, sol, sims)
    result = city_leads(
        np.asarray(snap.impacts.values[sol], dtype=np.float64),
        snap.target_gaps,
        snap.target_confidence,
        None,
        x,
        snap.weights,
        tie_keys=snap.city_tie,
        mask=mask,
        top_k=limit,
        normaliser=float(snap.learned.normaliser[sol]) if snap.learned.normaliser is not None else None,
        learned=learned,
    )
    # The solution's evidence rows for every lead; sim(evidence city, lead), read from the evidence city's
    # row: the similarity is symmetric.
    top = np.asarray([m.index for m in result.top], dtype=np.intp)
    ev = snap.evidence
    own = np.arange(int(ev.start[sol]), int(ev.start[sol + 1]), dtype=np.intp)
    rows = np.tile(own, top.shape[0])
    owner = np.repeat(np.arange(top.shape[0], dtype=np.intp), own.shape[0])
    sim_top = np.array([sims[c][top] for c in ev.city[own].tolist()], dtype=np.float64).reshape(
        own.shape[0], top.shape[0]
    )
    leads_evidence = evidence_items(snap, [(sol, c) for c in top.tolist()], rows, owner, sim_top.T.ravel())
    items = []
    for rank, m in enumerate(result.top, start=1):
        c = m.index
        evidence = leads_evidence[rank - 1]
        items.append(
            CityLeadOut(
                rank=rank,
                city=city_ref(snap, c),
                score=m.score,
                scored_kpis=int(snap.n_scored[c]),
                reasons=relevance_reasons(snap, m, sol, c, evidence, own_sums(c)),
            )
        )
    return CityLeadsOut(
        solution=solution_ref(snap, sol),
        method_version=result.method_version,
        scope=scope,
        candidates=int(np.count_nonzero(mask)),
        items=items,
    )


def solution_leads(
    session: Session,
    principal: Principal,
    settings: Settings,
    solution_id: int,
    *,
    limit: int = 20,
    scope: LeadScope = LeadScope.offered,
) -> CityLeadsOut:
    """Cities whose public data says they need this solution most, with the same reasons read the other way."""
    visible_solution(session, principal, solution_id)
    snap = current_snapshot(session, settings, solution_id=solution_id)
    row = snap.solution_row(solution_id)
    if row is None:
        raise NotFound(f"No solution with id {solution_id}.")
    return rank_cities(snap, row, limit=limit, scope=scope)
