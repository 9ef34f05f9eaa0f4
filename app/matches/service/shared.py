"""What the match features share (docs/architecture.md §7): the visibility checks that are a request's one or
two statements, the snapshot of `app.matches.store`, and the pieces of the answers (references, confidence,
missing KPIs, estimates, relevance reasons, evidence)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlmodel import Session, col

from app.auth import permissions
from app.auth.principal import Principal
from app.cities.models import City
from app.core.config import MatchingSettings, Settings
from app.core.errors import NotFound
from app.matches.schemas import (
    CityRef,
    EffectEstimate,
    EvidenceItem,
    KpiReason,
    MatchConfidence,
    MissingKpi,
    RelevanceReasons,
    SimilarCitiesReason,
    SolutionRef,
    VendorRef,
)
from app.matches.store import Snapshot, session_store
from app.matching import EVIDENCE_LEVELS, RelevanceMatch
from app.matching.outcomes import interval_of
from app.moderation.models import ContentKind
from app.moderation.visibility import is_hidden_column
from app.solutions import service as solutions
from app.solutions.models import ListingStatus, Solution

F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.intp]


# The checks of the match paths read one row by primary key, with statements built once and run on the
# session's connection: the ORM's execution layer costs several times the read itself on SQLite, and these
# read-only requests have no pending ORM change to flush first.
_CITY_PUBLIC = sa.select(col(City.data_public)).where(col(City.id) == sa.bindparam("city_id"))
_SOLUTION_ACCESS = sa.select(
    col(Solution.id),
    col(Solution.vendor_id),
    col(Solution.status),
    is_hidden_column(ContentKind.listing, col(Solution.id)),
).where(col(Solution.id) == sa.bindparam("solution_id"))


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
    """(id, vendor id, status) of a listing the caller may see (published, or its vendor's, or an admin; not
    hidden by moderation but to its vendor and moderators)."""
    row = session.connection().execute(_SOLUTION_ACCESS, {"solution_id": solution_id}).first()
    if (
        row is None
        or not (row[2] == ListingStatus.published or permissions.can_read_listing_drafts(principal, int(row[1])))
        or solutions.hidden_listing_from(session, principal, solution_id, int(row[1]), hidden=bool(row[3]))
    ):
        raise NotFound(f"No solution with id {solution_id}. GET /api/v1/solutions lists the published solutions.")
    return solution_id, int(row[1]), str(getattr(row[2], "value", row[2]))  # row[0] is solution_id


def current_snapshot(
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


def city_row_of(snap: Snapshot, city_id: int) -> int:
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


def optional_float(x: float) -> float | None:
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


def relevance_reasons(
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
        gap = optional_float(snap.target_gaps[city, k.kpi])
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


def evidence_items(
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


def evidence_rows(snap: Snapshot, sols: Ints) -> tuple[Ints, Ints]:
    """The evidence rows of each of `sols`, one after the other, and the position in `sols` of each."""
    ev = snap.evidence
    lo, counts = ev.start[sols], ev.start[sols + 1] - ev.start[sols]
    owner = np.repeat(np.arange(sols.shape[0], dtype=np.intp), counts)
    first = np.cumsum(counts) - counts  # where each solution's rows begin in the result
    rows = np.arange(int(counts.sum()), dtype=np.intp) - np.repeat(first - lo, counts)
    return rows, owner
