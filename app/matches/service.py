"""Matches: solutions for a city, cities for a solution (a vendor's leads), twin-city partners, and saved
match runs. Both faces (REST, GraphQL) call these functions.

Each request reads one or two rows for its visibility check, then works on the process-wide snapshot of
`app.matches.store` (no statement at all while the snapshot is fresh; one to check it when due): a constant
number of SQL statements whatever the number of KPIs, cities or solutions. The arithmetic is
`app.matching`'s; this module picks the rows (hard filters), and turns the parts of each score into
reasons that name the KPIs, the cities and the evidence, and add up to the score.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth import permissions
from app.auth.principal import Principal
from app.cities.models import City
from app.core.config import MatchingSettings, Settings
from app.core.errors import InvalidInput, NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.identity.models import OrganisationKind, Role
from app.matches.models import MatchKind, MatchRun
from app.matches.schemas import (
    CityLeadOut,
    CityLeadsOut,
    CityRef,
    EffectEstimate,
    EvidenceItem,
    KpiReason,
    LeadScope,
    MatchConfidence,
    MatchInclude,
    MatchRunIn,
    MatchRunOut,
    MatchRunSummaryOut,
    MatchScope,
    MissingKpi,
    RelevanceReasons,
    SimilarCitiesReason,
    SolutionMatchesOut,
    SolutionMatchOut,
    SolutionRef,
    TwinMatchesOut,
    TwinMatchOut,
    UnmeasuredKpi,
    UnmeasuredMatchOut,
    VendorRef,
)
from app.matches.store import Snapshot, session_store
from app.matching import (
    EVIDENCE_LEVELS,
    QUALITY_LEVELS,
    ImpactOverrides,
    MatchingWeights,
    RelevanceMatch,
    city_leads,
    context_similarity,
    solution_relevance,
    twin_partners,
)
from app.matching.matching import TwinKpi, top_k_indices
from app.matching.outcomes import blend, interval_of
from app.solutions.models import ListingStatus, Solution

F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.intp]


# ---------------------------------------------------------------------------------------------------------
# Visibility (the one or two statements of a request).
# ---------------------------------------------------------------------------------------------------------


# The checks of the match paths read one row by primary key, with statements built once and run on the
# session's connection: the ORM's execution layer costs several times the read itself on SQLite, and these
# read-only requests have no pending ORM change to flush first.
_CITY_PUBLIC = sa.select(col(City.data_public)).where(col(City.id) == sa.bindparam("city_id"))
_SOLUTION_ACCESS = sa.select(col(Solution.id), col(Solution.vendor_id), col(Solution.status)).where(
    col(Solution.id) == sa.bindparam("solution_id")
)


def _refuse_hidden_city(principal: Principal, city_id: int, data_public: bool | None) -> None:
    """404 unless the city exists (data_public is not None) and the caller may see its data."""
    if data_public is None:
        raise NotFound(f"No city with id {city_id}. GET /api/v1/cities lists the cities.")
    if not (data_public or permissions.can_read_city_private(principal, city_id)):
        raise NotFound(
            f"No city with id {city_id} whose data you may read: city {city_id} does not make its KPI data "
            "public, and only its officials, programme coordinators and admins can see its scorecard and matches."
        )


def visible_city(session: Session, principal: Principal, city_id: int) -> City:
    """The city, if the caller may see its data: public, or its officials, coordinators and admins (404
    otherwise, as for a city that does not exist, so that private data does not leak)."""
    city = session.get(City, city_id)
    _refuse_hidden_city(principal, city_id, None if city is None else bool(city.data_public))
    assert city is not None
    return city


def check_city_visible(session: Session, principal: Principal, city_id: int) -> None:
    """`visible_city`'s check, for the matches: one column of one row, not the whole city."""
    row = session.connection().execute(_CITY_PUBLIC, {"city_id": city_id}).first()
    _refuse_hidden_city(principal, city_id, None if row is None else bool(row[0]))


def visible_solution(session: Session, principal: Principal, solution_id: int) -> tuple[int, int, str]:
    """(id, vendor id, status) of a listing the caller may see (published, or its vendor's, or an admin)."""
    row = session.connection().execute(_SOLUTION_ACCESS, {"solution_id": solution_id}).first()
    if row is None or not (
        row[2] == ListingStatus.published or permissions.can_read_listing_drafts(principal, int(row[1]))
    ):
        raise NotFound(f"No solution with id {solution_id}. GET /api/v1/solutions lists the published solutions.")
    return solution_id, int(row[1]), str(getattr(row[2], "value", row[2]))  # row[0] is solution_id


def _snapshot(
    session: Session,
    settings: Settings,
    *,
    city_id: int | None = None,
    solution_id: int | None = None,
    force: bool = False,
) -> Snapshot:
    return session_store(session).snapshot(
        session, settings.matching, force_check=force, city_id=city_id, solution_id=solution_id
    )


def _city_row(snap: Snapshot, city_id: int) -> int:
    row = snap.city_row(city_id)
    if row is None:  # deleted between the check and the snapshot
        raise NotFound(f"No city with id {city_id}.")
    return row


# ---------------------------------------------------------------------------------------------------------
# Shared pieces of the answers.
# ---------------------------------------------------------------------------------------------------------


# The models of an answer are built with their (validating) constructors: pydantic-core builds them faster
# than model_construct's Python loop over the fields, and they are checked.


def city_ref(snap: Snapshot, row: int) -> CityRef:
    return CityRef(
        id=int(snap.city_ids[row]),
        slug=snap.city_slug[row],
        name=snap.city_name[row],
        country_code=snap.city_country[row],
    )


def solution_ref(snap: Snapshot, row: int) -> SolutionRef:
    vendor_id = int(snap.sol_vendor[row])
    v = snap.vendors.get(vendor_id)
    vendor = VendorRef(
        id=vendor_id,
        slug=v.slug if v else "",
        name=v.name if v else "",
        country_code=v.country_code if v else "",
        verified=v.verified if v else False,
    )
    return SolutionRef(
        id=int(snap.sol_ids[row]),
        slug=snap.sol_slug[row],
        title=snap.sol_title[row],
        vendor=vendor,
        countries=list(snap.sol_countries.get(row, ())),
    )


def match_confidence(snap: Snapshot, row: int, settings: MatchingSettings) -> MatchConfidence:
    n = int(snap.n_scored[row])
    scorable = int(np.count_nonzero(snap.kpi_scorable))
    scored = np.isfinite(snap.gaps[row])
    mean = float(snap.confidence[row][scored].mean()) if n else None
    name = snap.city_name[row]
    minimum = snap.weights.min_reported_kpis
    if n == 0:
        level = "none"
        detail = (
            f"{name} reports no KPI value that can be scored: solutions are ranked on evidence from similar "
            "cities only, not on the city's needs. Report KPI values to get matches for its weakest KPIs."
        )
    elif n < minimum:
        level = "low"
        detail = (
            f"{name} reports {n} of the {scorable} KPIs that can be scored: matches reflect those KPIs only, "
            f"and twin matching needs at least {minimum}. The KPIs listed as missing are not taken into account."
        )
    elif n < settings.confident_kpis:
        level = "medium"
        detail = (
            f"{name} reports {n} of the {scorable} KPIs that can be scored: matches are sound for those KPIs; "
            "the KPIs listed as missing are not taken into account."
        )
    else:
        level = "high"
        detail = f"{name} reports {n} of the {scorable} KPIs that can be scored."
    if mean is not None and mean < 0.5:
        detail += f" Its data confidence is low (mean {mean:.2f}: values of unknown method or unverified)."
    return MatchConfidence(
        level=level,
        scored_kpis=n,
        scorable_kpis=scorable,
        total_kpis=snap.n_kpis,
        mean_data_confidence=mean,
        detail=detail,
    )


def missing_kpis(snap: Snapshot, row: int) -> list[MissingKpi]:
    has_value = np.zeros(snap.n_kpis, dtype=np.bool_)
    has_value[snap.dp_kpi[np.isfinite(snap.value[row])]] = True
    out = []
    for k in np.flatnonzero(~np.isfinite(snap.gaps[row])).tolist():
        if not snap.kpi_scorable[k]:
            reason = "the KPI cannot be scored: no benchmark, or the direction is undetermined"
        elif has_value[k]:
            reason = "a value is reported but cannot be scored against the benchmark"
        else:
            reason = "no value reported"
        out.append(MissingKpi(kpi=snap.kpi_slug[k], code=snap.kpi_code[k], name=snap.kpi_name[k], reason=reason))
    return out


def _opt(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


OwnSums = dict[int, tuple[float, float]]
"""Outcome cell -> (sum of weights, sum of weight x share) of its own outcomes, for the asking city."""


def _estimate(
    snap: Snapshot, sol: int, target: int, claim: int | None, impact: float, own: OwnSums
) -> EffectEstimate | None:
    """How the impact of (listing, target) was learned (u4ssc-match/3), from the same numbers the score
    used: its own outcomes weighed for this city, else the pooled ones of its categories, else the claim."""
    w = snap.weights
    if not w.need_first:
        return None
    learned = snap.learned
    claims = snap.claims
    level = int(claims.level[claim]) if claim is not None else -1
    effect = float(claims.effect[claim]) if claim is not None else None
    strength = w.outcome_prior_strength * (w.evidence_table()[level] if level >= 0 else 1.0)
    mean0 = (effect or 0.0) * (w.evidence_table()[level] if level >= 0 else 0.0)
    cell = learned.cell_index.get((sol, target))
    pooled = learned.pooled.get((sol, target))
    if cell is not None:
        weight, weighted = own.get(cell, (0.0, 0.0))
        n, is_pooled = int(learned.cell_count[cell]), False
    elif pooled is not None:
        weight, weighted, n = pooled
        is_pooled = True
    else:
        weight, weighted, n, is_pooled = 0.0, 0.0, 0, False
    source = "claim" if n == 0 else ("blended" if claim is not None else "outcomes")
    low, high = interval_of(impact, strength, weight, w.outcome_interval_z)
    return EffectEstimate(
        source=source,
        claimed_effect=effect,
        prior_mean=mean0,
        prior_strength=strength,
        observed_mean=weighted / weight if weight > 0 else None,
        outcomes=n,
        outcome_weight=weight,
        pooled=is_pooled,
        estimate=impact,
        low=low,
        high=high,
    )


def _relevance_reasons(
    snap: Snapshot,
    match: RelevanceMatch,
    sol: int,
    city: int,
    items: list[EvidenceItem],
    own: OwnSums | None = None,
) -> RelevanceReasons:
    """The parts of one relevance score (`match` is the arithmetic's), with names and evidence. The
    arithmetic's columns are claim targets: a KPI as a whole, or the data point a claim names (whose own gap
    it weighed); each reason names the KPI, and the data point when there is one."""
    w = snap.weights
    claims = snap.claims
    by_target = {int(claims.target[j]): j for j in claims.of(sol)}
    table = w.evidence_table()
    kpis = []
    for k in match.kpis:
        j = by_target.get(k.kpi)
        kpi = int(snap.target_kpi[k.kpi])
        d = int(snap.target_dp[k.kpi])
        level = int(claims.level[j]) if j is not None else 0
        gap = _opt(snap.target_gaps[city, k.kpi])
        kpis.append(
            KpiReason(
                kpi=snap.kpi_slug[kpi],
                code=snap.kpi_code[kpi],
                name=snap.kpi_name[kpi],
                data_point=snap.dp_key[d] if d >= 0 else None,
                gap=gap,
                achievement=None if gap is None else 1.0 - gap,
                data_confidence=float(snap.target_data_confidence[city, k.kpi]),
                benchmark_confidence=float(snap.target_benchmark_confidence[city, k.kpi]),
                kpi_weight=k.kpi_weight,
                expected_effect=float(claims.effect[j]) if j is not None else 0.0,
                evidence_level=EVIDENCE_LEVELS[level] if j is not None else "none",
                evidence_weight=table[level] if j is not None else 0.0,
                impact=k.impact,
                estimate=_estimate(snap, sol, k.kpi, j, k.impact, own or {}),
                case_study_id=claims.case_study_id[j] if j is not None else None,
                contribution=k.contribution,
            )
        )
    return RelevanceReasons(
        kpis=kpis,
        normaliser=match.normaliser,
        kpi_term=match.kpi_term,
        similar_cities=SimilarCitiesReason(
            weighted_count=match.similar_evidence,
            half=w.similar_evidence_half,
            weight=w.similar_evidence_weight,
            relevance=match.relevance if w.need_first else None,
            contribution=match.similar_contribution,
            items=items,
        ),
    )


def _evidence_items(
    snap: Snapshot, pairs: list[tuple[int, int]], rows: Ints, owner: Ints, similarity: F64
) -> list[list[EvidenceItem]]:
    """The similar-city evidence of each top result j, pairs[j] = (solution, city): of the evidence `rows`
    whose owner is j (rows of that solution), with similarity = sim(city of the row, that city), the
    deployments and case studies in cities at least `similar_city_min_similarity` like it (its own
    excluded), most telling first. The filter runs once over the rows of every result."""
    ev = snap.evidence
    where, weight = ev.city[rows], ev.weight[rows]
    city_of = np.asarray([c for _, c in pairs], dtype=np.intp)[owner]
    keep = np.flatnonzero(
        (where != city_of) & (similarity >= snap.weights.similar_city_min_similarity) & ~(weight <= 0)
    )
    out: list[list[EvidenceItem]] = [[] for _ in pairs]
    refs: dict[int, CityRef] = {}
    for r, j, c, ref_id, s, w in zip(
        rows[keep].tolist(),
        owner[keep].tolist(),
        where[keep].tolist(),
        ev.ref_id[rows[keep]].tolist(),
        similarity[keep].tolist(),
        weight[keep].tolist(),
        strict=True,
    ):
        ref = refs.get(c)
        if ref is None:
            ref = refs[c] = city_ref(snap, c)
        out[j].append(
            EvidenceItem(
                kind=ev.kind[r],
                id=ref_id,
                title=ev.title[r] or f"{snap.sol_title[pairs[j][0]]} in {snap.city_name[c]}",
                year=ev.year[r],
                city=ref,
                similarity=s,
                weight=w,
                counted=s * w,
            )
        )
    for items in out:
        items.sort(key=lambda e: (-e.counted, e.kind, e.id))
    return out


def _evidence_rows(snap: Snapshot, sols: Ints) -> tuple[Ints, Ints]:
    """The evidence rows of each of `sols`, one after the other, and the position in `sols` of each."""
    ev = snap.evidence
    lo, counts = ev.start[sols], ev.start[sols + 1] - ev.start[sols]
    owner = np.repeat(np.arange(sols.shape[0], dtype=np.intp), counts)
    first = np.cumsum(counts) - counts  # where each solution's rows begin in the result
    rows = np.arange(int(counts.sum()), dtype=np.intp) - np.repeat(first - lo, counts)
    return rows, owner


# ---------------------------------------------------------------------------------------------------------
# Solutions for a city.
# ---------------------------------------------------------------------------------------------------------


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
    rows, owner = _evidence_rows(snap, top)
    evidence = _evidence_items(snap, [(s, city) for s in top.tolist()], rows, owner, sim[snap.evidence.city[rows]])
    items = [
        SolutionMatchOut(
            rank=rank,
            solution=solution_ref(snap, m.index),
            score=m.score,
            featured_in_hub=m.index in featured,
            reasons=_relevance_reasons(snap, m, m.index, city, evidence[rank - 1], own_sums(m.index)),
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
    scope = _scope(scope, hub)
    check_city_visible(session, principal, city_id)
    snap = _snapshot(session, settings, city_id=city_id)
    if hub is not None and hub not in snap.hubs:  # made by another process since the last check?
        snap = _snapshot(session, settings, force=True)
    return rank_solutions(
        snap,
        _city_row(snap, city_id),
        settings.matching,
        limit=limit,
        scope=scope,
        hub=hub,
        category=category,
        language=language,
        include=include,
    )


def _scope(scope: MatchScope | None, hub: int | None) -> MatchScope:
    if scope is None:
        return MatchScope.hub if hub is not None else MatchScope.country
    if hub is not None and scope is not MatchScope.hub:
        raise InvalidInput(
            f"hub={hub} goes with scope=hub (or no scope), not scope={scope.value}.",
            errors=[{"field": "query.hub", "message": "hub needs scope=hub", "type": "conflict"}],
        )
    return scope


# ---------------------------------------------------------------------------------------------------------
# Cities for a solution (a vendor's leads).
# ---------------------------------------------------------------------------------------------------------


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
    leads_evidence = _evidence_items(snap, [(sol, c) for c in top.tolist()], rows, owner, sim_top.T.ravel())
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
                reasons=_relevance_reasons(snap, m, sol, c, evidence, own_sums(c)),
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
    snap = _snapshot(session, settings, solution_id=solution_id)
    row = snap.solution_row(solution_id)
    if row is None:
        raise NotFound(f"No solution with id {solution_id}.")
    return rank_cities(snap, row, limit=limit, scope=scope)


# ---------------------------------------------------------------------------------------------------------
# Twin-city partners.
# ---------------------------------------------------------------------------------------------------------


def readable_cities(snap: Snapshot, principal: Principal) -> Bools:
    """Cities whose values the caller may see in a partner's reasons: public ones, and the private ones it
    may read (all of them for coordinators and admins)."""
    if permissions.can_read_every_city_private(principal):
        return np.ones(snap.city_ids.shape[0], dtype=np.bool_)
    mask = snap.city_public.copy()
    for city_id in principal.target_ids(OrganisationKind.city, Role.city_official):
        row = snap.city_row(city_id)
        if row is not None and permissions.can_read_city_private(principal, city_id):
            mask[row] = True
    return mask


# Twenty partners make some 200 models: their fields go in as plain dicts, validated in one call, in which
# pydantic-core builds every nested model (half the time of one constructor call per model).
_TWIN_ITEMS: Final = TypeAdapter(list[TwinMatchOut])


def _twin_kpis(snap: Snapshot, kpis: tuple[TwinKpi, ...]) -> list[dict[str, Any]]:
    """TwinKpiOut fields."""
    return [
        {
            "kpi": snap.kpi_slug[t.kpi],
            "code": snap.kpi_code[t.kpi],
            "name": snap.kpi_name[t.kpi],
            "weak_achievement": t.weak_achievement,
            "strong_achievement": t.strong_achievement,
            "confidence": t.confidence,
            "help": t.help,
            "contribution": t.contribution,
        }
        for t in kpis
    ]


def _context_value(snap: Snapshot, name: str, row: int) -> str | None:
    if name == "population":
        p = snap.context.population[row]
        return None if not math.isfinite(p) else str(int(p))
    return snap.context_labels[name][row]


def rank_twins(
    snap: Snapshot, city: int, settings: MatchingSettings, *, limit: int, candidates: Bools | None = None
) -> TwinMatchesOut:
    n_city = snap.city_ids.shape[0]
    twinned = np.zeros(n_city, dtype=np.bool_)
    twinned[list(snap.twinned.get(city, ()))] = True
    city_values = {name: _context_value(snap, name, city) for name in ("population", "region", "climate", "income")}
    result = twin_partners(
        city,
        snap.cities,
        snap.context,
        snap.weights,
        already_twinned=twinned,
        candidates=candidates,
        tie_keys=snap.city_tie,
        top_k=limit,
    )
    items = []
    for rank, m in enumerate(result.top, start=1):
        p = m.index
        comp, shared, ctx = m.complementarity, m.shared, m.context
        items.append(
            {  # TwinMatchOut fields
                "rank": rank,
                "city": {
                    "id": int(snap.city_ids[p]),
                    "slug": snap.city_slug[p],
                    "name": snap.city_name[p],
                    "country_code": snap.city_country[p],
                },
                "score": m.score,
                "scored_kpis": int(snap.n_scored[p]),
                "complementarity": {
                    "score": comp.score,
                    "contribution": comp.contribution,
                    "partner_helps_city": comp.partner_helps_city,
                    "city_helps_partner": comp.city_helps_partner,
                    "balance": comp.balance,
                    "partner_helps_city_kpis": _twin_kpis(snap, comp.partner_helps_city_kpis),
                    "city_helps_partner_kpis": _twin_kpis(snap, comp.city_helps_partner_kpis),
                },
                "shared_challenges": {
                    "score": shared.score,
                    "contribution": shared.contribution,
                    "weak_in_either": shared.weak_in_either,
                    "categories": [
                        {
                            "dimension": snap.categories[c.category][0],
                            "subdimension": snap.categories[c.category][1],
                            "category": snap.categories[c.category][2],
                            "city_achievement": c.city_achievement,
                            "partner_achievement": c.partner_achievement,
                            "contribution": c.contribution,
                        }
                        for c in shared.categories
                    ],
                },
                "context": {
                    "score": ctx.score,
                    "contribution": ctx.contribution,
                    "parts": [
                        {
                            "name": part.name,
                            "similarity": part.similarity,
                            "weight": part.weight,
                            "contribution": part.contribution,
                            "city_value": city_values[part.name],
                            "partner_value": _context_value(snap, part.name, p),
                        }
                        for part in ctx.parts
                    ],
                },
            }
        )
    return TwinMatchesOut(
        city=city_ref(snap, city),
        method_version=result.method_version,
        eligible=result.city_eligible,
        min_reported_kpis=snap.weights.min_reported_kpis,
        candidates=int(np.count_nonzero(result.eligible)),
        confidence=match_confidence(snap, city, settings),
        items=_TWIN_ITEMS.validate_python(items),
    )


def twin_matches(
    session: Session, principal: Principal, settings: Settings, city_id: int, *, limit: int = 20
) -> TwinMatchesOut:
    """Partner cities: complementary strengths both ways, shared weak categories, similar context."""
    check_city_visible(session, principal, city_id)
    snap = _snapshot(session, settings, city_id=city_id)
    row = _city_row(snap, city_id)
    return rank_twins(snap, row, settings.matching, limit=limit, candidates=readable_cities(snap, principal))


# ---------------------------------------------------------------------------------------------------------
# Saved match runs.
# ---------------------------------------------------------------------------------------------------------


def _values_used(snap: Snapshot, row: int) -> dict[str, Any]:
    """The city's values as the run used them: every data point with a value, and every KPI's gap."""
    values = []
    for d in np.flatnonzero(np.isfinite(snap.value[row])).tolist():
        k = int(snap.dp_kpi[d])
        q = int(snap.quality[row, d])
        a = snap.dp_achievement[row, d]
        values.append(
            {
                "kpi": snap.kpi_slug[k],
                "code": snap.kpi_code[k],
                "data_point": snap.dp_key[d],
                "value": float(snap.value[row, d]),
                "year": int(snap.year[row, d]),
                "data_quality": QUALITY_LEVELS[q] if q >= 0 else None,
                "verified": bool(snap.verified[row, d]),
                "benchmark": _opt(snap.dp_benchmark[d]),
                "achievement": _opt(a),
            }
        )
    kpis = [
        {
            "kpi": snap.kpi_slug[k],
            "code": snap.kpi_code[k],
            "gap": float(snap.gaps[row, k]),
            "confidence": float(snap.confidence[row, k]),
        }
        for k in np.flatnonzero(np.isfinite(snap.gaps[row])).tolist()
    ]
    return {"values": values, "kpis": kpis}


def _weights_dict(weights: MatchingWeights, settings: MatchingSettings) -> dict[str, Any]:
    return {
        **asdict(weights),
        "deployment_evidence": settings.deployment_evidence,
        "case_study_evidence": settings.case_study_evidence,
        "case_study_outcomes_evidence": settings.case_study_outcomes_evidence,
    }


def _refuse_runs(session: Session, principal: Principal, city_id: int) -> City:
    city = visible_city(session, principal, city_id)
    permissions.require(
        permissions.can_run_matches(principal, city_id),
        f"Only the officials of city {city_id}, programme coordinators and admins may save and read its "
        "match runs (they keep the city's values); your token needs the private:read scope.",
    )
    return city


def create_match_run(
    session: Session, principal: Principal, settings: Settings, city_id: int, body: MatchRunIn, request_id: str = ""
) -> MatchRunOut:
    _refuse_runs(session, principal, city_id)
    if body.kind is MatchKind.twins:
        extra = [name for name in ("scope", "hub", "category", "language") if getattr(body, name) is not None]
        if extra:
            raise InvalidInput(
                f"{', '.join(extra)} apply to kind=solutions only.",
                errors=[{"field": f"body.{n}", "message": "not for kind=twins", "type": "extra"} for n in extra],
            )
    snap = _snapshot(session, settings, city_id=city_id, force=True)
    row = _city_row(snap, city_id)
    ranking: list[dict[str, Any]]
    if body.kind is MatchKind.solutions:
        scope = _scope(body.scope, body.hub)
        solutions = rank_solutions(
            snap,
            row,
            settings.matching,
            limit=body.limit,
            scope=scope,
            hub=body.hub,
            category=body.category,
            language=body.language,
        )
        parameters: dict[str, Any] = {
            "limit": body.limit,
            "scope": scope.value,
            "hub": body.hub,
            "hubs": solutions.hubs,
            "category": body.category,
            "language": body.language,
            "candidates": solutions.candidates,
        }
        ranking = [item.model_dump(mode="json") for item in solutions.items]
        missing = [m.model_dump(mode="json") for m in solutions.missing_kpis]
    else:
        twins = rank_twins(snap, row, settings.matching, limit=body.limit, candidates=readable_cities(snap, principal))
        parameters = {
            "limit": body.limit,
            "eligible": twins.eligible,
            "min_reported_kpis": twins.min_reported_kpis,
            "candidates": twins.candidates,
        }
        ranking = [item.model_dump(mode="json") for item in twins.items]
        missing = [m.model_dump(mode="json") for m in missing_kpis(snap, row)]
    inputs = {
        "city": city_ref(snap, row).model_dump(mode="json"),
        **_values_used(snap, row),
        "confidence": match_confidence(snap, row, settings.matching).model_dump(mode="json"),
        "missing_kpis": missing,
    }
    run = MatchRun(
        city_id=city_id,
        kind=body.kind,
        method_version=snap.weights.method_version,
        parameters=parameters,
        weights=_weights_dict(snap.weights, settings.matching),
        inputs=inputs,
        ranking=ranking,
        created_by_user_id=principal.user_id,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        principal,
        "match_run.create",
        "match_run",
        run.id or 0,
        {"city_id": city_id, "kind": body.kind.value, "parameters": parameters, "results": len(ranking)},
        request_id=request_id,
    )
    return run_out(run)


def run_summary(run: MatchRun) -> MatchRunSummaryOut:
    return MatchRunSummaryOut(
        id=run.id or 0,
        city_id=run.city_id,
        kind=run.kind,
        method_version=run.method_version,
        parameters=dict(run.parameters),
        results=len(run.ranking),
        created_by_user_id=run.created_by_user_id,
        created_at=run.created_at,
    )


def run_out(run: MatchRun) -> MatchRunOut:
    return MatchRunOut(
        **run_summary(run).model_dump(),
        weights=dict(run.weights),
        inputs=dict(run.inputs),
        ranking=list(run.ranking),
    )


def get_match_run(session: Session, principal: Principal, city_id: int, run_id: int) -> MatchRunOut:
    _refuse_runs(session, principal, city_id)
    run = session.get(MatchRun, run_id)
    if run is None or run.city_id != city_id:
        raise NotFound(f"No match run {run_id} for city {city_id}. GET /api/v1/cities/{city_id}/match-runs lists them.")
    return run_out(run)


def list_match_runs(
    session: Session, principal: Principal, city_id: int, page: PageRequest, kind: MatchKind | None = None
) -> PageResult[MatchRun]:
    _refuse_runs(session, principal, city_id)
    statement = select(MatchRun).where(col(MatchRun.city_id) == city_id)
    if kind is not None:
        statement = statement.where(col(MatchRun.kind) == kind)
    return paginate(session, statement, [SortKey(MatchRun.id, descending=True)], page)  # type: ignore[arg-type]
