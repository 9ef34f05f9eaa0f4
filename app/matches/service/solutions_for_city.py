"""Solutions for a city (docs/architecture.md §7): the hard filters (scope, hub, country), the ranking
by need x impact on the snapshot, the KPIs nobody measured yet, and the answer with its reasons."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlmodel import Session

from app.auth.principal import Principal
from app.core.config import MatchingSettings, Settings
from app.core.errors import InvalidInput
from app.matches.schemas import (
    MatchInclude,
    MatchScope,
    SolutionMatchesOut,
    SolutionMatchOut,
    UnmeasuredKpi,
    UnmeasuredMatchOut,
)
from app.matches.service.shared import (
    F64,
    Bools,
    OwnSums,
    check_city_visible,
    city_ref,
    city_row_of,
    current_snapshot,
    evidence_items,
    evidence_rows,
    match_confidence,
    missing_kpis,
    relevance_reasons,
    solution_ref,
)
from app.matches.store import Snapshot
from app.matching import EVIDENCE_LEVELS, ImpactOverrides, context_similarity, solution_relevance
from app.matching.matching import top_k_indices
from app.matching.outcomes import blend


def _solution_mask(
    snap: Snapshot,
    city: int,
    scope: MatchScope,
    hub: int | None,
    category: str | None,
    language: str | None,
) -> tuple[Bools, list[int], frozenset[int]]:
    n = snap.sol_ids.shape[0]
    hubs: list[int] = []
    featured: set[int] = set()
    if scope is MatchScope.country:
        mask = snap.published_offered_in(snap.city_country[city]).copy()  # made once per country and snapshot
    else:
        mask = snap.sol_published.copy()
    if scope is MatchScope.hub:
        if hub is not None:
            if hub not in snap.hubs:
                raise InvalidInput(
                    f"No hub with id {hub}. GET /api/v1/hubs lists the hubs.",
                    errors=[{"field": "query.hub", "message": "unknown hub", "type": "not_found"}],
                )
            hubs = [hub]
        else:
            hubs = list(snap.country_hubs.get(snap.city_country[city], ()))
            if not hubs:
                raise InvalidInput(
                    f"No hub covers {snap.city_name[city]}'s country ({snap.city_country[city]}): pass hub=<id>, "
                    "or use scope=country or scope=all.",
                    errors=[{"field": "query.hub", "message": "no hub for the city's country", "type": "missing"}],
                )
        listed = np.zeros(n, dtype=np.bool_)
        for h in hubs:
            listed[snap.hubs[h].listed] = True
            featured |= snap.hubs[h].featured
        mask &= listed
    if language:
        spoken = np.zeros(n, dtype=np.bool_)
        spoken[snap.languages.get(language.lower(), np.zeros(0, dtype=np.intp))] = True
        mask &= spoken
    if category:
        in_category = np.zeros(n, dtype=np.bool_)
        in_category[snap.sol_categories.get(category.lower(), np.zeros(0, dtype=np.intp))] = True
        mask &= in_category
    return mask, hubs, frozenset(featured)


def similarity_to(snap: Snapshot, city: int) -> F64:
    """Context similarity of every city to `city` (symmetric)."""
    return context_similarity(snap.context, city, snap.weights).total


def similar_evidence_for_city(snap: Snapshot, city: int, similarity: F64, country: str | None = None) -> F64:
    """x_s for every solution: its deployments and case studies in cities at least
    `similar_city_min_similarity` like this one (its own left out), each counted similarity x weight.
    The same sum as `app.matching.similar_evidence` over the rows of other cities, in one pass. With
    `country`, only for the listings offered there (the others, which cannot be ranked, count 0)."""
    counted = np.where(similarity >= snap.weights.similar_city_min_similarity, similarity, 0.0)
    counted[city] = 0.0
    if country is None:
        ev = snap.evidence
        solution, where, weight = ev.solution, ev.city, ev.weight
    else:
        solution, where, weight = snap.evidence_offered_in(country)
    out = np.bincount(solution, weights=weight * counted[where], minlength=snap.sol_ids.shape[0])
    return out.astype(np.float64, copy=False)


def learned_overrides(
    snap: Snapshot, similarity: F64, country: str | None = None
) -> tuple[ImpactOverrides | None, Callable[[int], OwnSums]]:
    """u4ssc-match/3: the impacts of the cells with outcomes of their own, learned for the city whose
    similarity to every city is `similarity`, with the claims' normaliser; and, per listing, its cells'
    (sum of weights, sum of weight x share) for the reasons. With `country`, only the cells of the listings
    offered there (the others cannot be ranked: their scores keep the claims' impacts). (None, ...) under /2."""
    if not snap.weights.need_first:
        return None, lambda _s: {}
    if country is None:
        cells, ids = snap.learned.cells, None
    else:
        cells, ids = snap.learned_offered_in(country)
    weight, weighted = cells.sums(similarity)
    estimate = blend(cells.prior_mean, cells.prior_strength, weight, weighted)
    # The matrix holds each such cell's prior (the claim, or 0): passed as the base, no gather needed.
    overrides = ImpactOverrides(cells.row, cells.col, estimate, snap.learned.normaliser, base=cells.prior_mean)

    def own_sums(sol: int) -> OwnSums:
        lo, hi = np.searchsorted(cells.row, [sol, sol + 1]).tolist()
        full = range(lo, hi) if ids is None else ids[lo:hi].tolist()
        return {int(c): (float(weight[i]), float(weighted[i])) for i, c in zip(range(lo, hi), full, strict=True)}

    return overrides, own_sums


def rank_solutions(
    snap: Snapshot,
    city: int,
    settings: MatchingSettings,
    *,
    limit: int,
    scope: MatchScope = MatchScope.country,
    hub: int | None = None,
    category: str | None = None,
    language: str | None = None,
    include: frozenset[MatchInclude] = frozenset(),
) -> SolutionMatchesOut:
    mask, hubs, featured = _solution_mask(snap, city, scope, hub, category, language)
    sim = similarity_to(snap, city)
    country = snap.city_country[city] if scope is MatchScope.country else None
    x = similar_evidence_for_city(snap, city, sim, country)
    overrides, own_sums = learned_overrides(snap, sim, country)
    result = solution_relevance(
        snap.target_gaps[city],
        snap.target_confidence[city],
        None,
        snap.impacts,
        x,
        snap.weights,
        tie_keys=snap.sol_tie,
        mask=mask,
        top_k=limit,
        overrides=overrides,
    )
    top = np.asarray([m.index for m in result.top], dtype=np.intp)
    rows, owner = evidence_rows(snap, top)
    evidence = evidence_items(snap, [(s, city) for s in top.tolist()], rows, owner, sim[snap.evidence.city[rows]])
    items = [
        SolutionMatchOut(
            rank=rank,
            solution=solution_ref(snap, m.index),
            score=m.score,
            featured_in_hub=m.index in featured,
            reasons=relevance_reasons(snap, m, m.index, city, evidence[rank - 1], own_sums(m.index)),
        )
        for rank, m in enumerate(result.top, start=1)
    ]
    unmeasured = None
    if MatchInclude.unmeasured in include:
        unmeasured = rank_unmeasured(snap, city, mask & ~result.ranked, overrides, limit=limit)
    return SolutionMatchesOut(
        city=city_ref(snap, city),
        method_version=result.method_version,
        scope=scope,
        hubs=hubs,
        candidates=int(np.count_nonzero(mask)),
        confidence=match_confidence(snap, city, settings),
        missing_kpis=missing_kpis(snap, city),
        items=items,
        unmeasured=unmeasured,
    )


def rank_unmeasured(
    snap: Snapshot, city: int, candidates: Bools, overrides: ImpactOverrides | None, *, limit: int
) -> list[UnmeasuredMatchOut]:
    """Listings among `candidates` (the hard filters, not ranked) that claim KPIs the city does not report,
    by potential = sum_k w_k i_sk [k not reported] / D_s (ties to the stable hash): what they could weigh
    if the city were as far as can be from those KPIs. A separate answer: no gap says the city needs them."""
    w = snap.weights
    unreported = ~np.isfinite(snap.target_gaps[city])
    vector = np.where(unreported, w.default_kpi_weight, 0.0)
    raw = snap.impacts.dot(vector)
    if overrides is not None and overrides.normaliser is not None:
        norm = overrides.normaliser
    else:
        norm = snap.impacts.normalisers(np.full(snap.n_targets, w.default_kpi_weight))
    with np.errstate(divide="ignore", invalid="ignore"):
        potential = np.where(norm > 0, np.clip(raw / norm, 0.0, 1.0), 0.0)
    keep = candidates & (np.round(potential, w.rank_decimals) > 0)
    idx = top_k_indices(potential, snap.sol_tie, limit, keep, w.rank_decimals)
    claims = snap.claims
    out = []
    for rank, sol in enumerate(idx.tolist(), start=1):
        kpis = []
        for j in claims.of(sol):
            t = int(claims.target[j])
            if not unreported[t]:
                continue
            k, d = int(snap.target_kpi[t]), int(snap.target_dp[t])
            level = int(claims.level[j])
            kpis.append(
                UnmeasuredKpi(
                    kpi=snap.kpi_slug[k],
                    code=snap.kpi_code[k],
                    name=snap.kpi_name[k],
                    data_point=snap.dp_key[d] if d >= 0 else None,
                    expected_effect=float(claims.effect[j]),
                    evidence_level=EVIDENCE_LEVELS[level],
                    impact=float(snap.impacts.values[sol, t]),
                )
            )
        kpis.sort(key=lambda u: (-u.impact, u.code, u.data_point or ""))
        out.append(
            UnmeasuredMatchOut(rank=rank, solution=solution_ref(snap, sol), potential=float(potential[sol]), kpis=kpis)
        )
    return out


def solution_matches(
    session: Session,
    principal: Principal,
    settings: Settings,
    city_id: int,
    *,
    limit: int = 20,
    scope: MatchScope | None = None,
    hub: int | None = None,
    category: str | None = None,
    language: str | None = None,
    include: frozenset[MatchInclude] = frozenset(),
) -> SolutionMatchesOut:
    """The published solutions best suited to the city's weakest KPIs, with their reasons (and, asked
    with include=unmeasured, the listings that may help where it has no data)."""
    scope = match_scope(scope, hub)
    check_city_visible(session, principal, city_id)
    snap = current_snapshot(session, settings, city_id=city_id)
    if hub is not None and hub not in snap.hubs:  # made by another process since the last check?
        snap = current_snapshot(session, settings, force=True)
    return rank_solutions(
        snap,
        city_row_of(snap, city_id),
        settings.matching,
        limit=limit,
        scope=scope,
        hub=hub,
        category=category,
        language=language,
        include=include,
    )


def match_scope(scope: MatchScope | None, hub: int | None) -> MatchScope:
    if scope is None:
        return MatchScope.hub if hub is not None else MatchScope.country
    if hub is not None and scope is not MatchScope.hub:
        raise InvalidInput(
            f"hub={hub} goes with scope=hub (or no scope), not scope={scope.value}.",
            errors=[{"field": "query.hub", "message": "hub needs scope=hub", "type": "conflict"}],
        )
    return scope
