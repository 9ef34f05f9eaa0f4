"""What the API says about matches: every score with the parts it is made of, so that the reasons add up."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.ids import Id
from app.core.text import InputModel
from app.matches.models import MatchKind


class MatchScope(StrEnum):
    """Which solutions a city's matches are drawn from (all must be published)."""

    country = "country"  # offered in the city's country
    hub = "hub"  # approved or featured in a hub's catalogue (the hubs of the city's country by default)
    all = "all"  # anywhere


class LeadScope(StrEnum):
    """Which cities a vendor's leads are drawn from (all must make their data public)."""

    offered = "offered"  # in a country where the solution is offered
    all = "all"


class MatchInclude(StrEnum):
    """Extra answers a caller may ask a city's solution matches for."""

    unmeasured = "unmeasured"  # listings for KPIs the city does not report: may help where it has no data


class CityRef(BaseModel):
    id: int
    slug: str
    name: str
    country_code: str


class VendorRef(BaseModel):
    id: int
    slug: str
    name: str
    country_code: str
    verified: bool


class SolutionRef(BaseModel):
    id: int
    slug: str
    title: str
    vendor: VendorRef
    countries: list[str] = Field(description="Countries where it is offered (ISO 3166-1 alpha-2)")


class EffectEstimate(BaseModel):
    """u4ssc-match/3: the effect the arithmetic weighs, learned from the claim and the measured outcomes.
    estimate = (prior_strength x prior_mean + outcome_weight x observed_mean) / (prior_strength +
    outcome_weight); interval: estimate -/+ z sqrt(estimate (1 - estimate) / (prior_strength +
    outcome_weight + 1))."""

    source: str = Field(description="claim (no outcome), outcomes (outcomes, no claim) or blended")
    claimed_effect: float | None = Field(description="The vendor's expected effect; null: no claim here")
    prior_mean: float = Field(description="m0 = claimed effect x evidence weight (0 without a claim)")
    prior_strength: float = Field(description="n0 = outcome_prior_strength x evidence weight")
    observed_mean: float | None = Field(
        description="Weighted mean share of the gap closed in the outcomes (before/after values); null: none"
    )
    outcomes: int = Field(description="Number of outcomes behind observed_mean")
    outcome_weight: float = Field(
        description="Sum of their weights: quality x similarity of their city to this one (pooled: quality x "
        "outcome_pooled_weight / categories of the listing measured)"
    )
    pooled: bool = Field(description="The outcomes are other listings' of the same category (none of its own)")
    estimate: float = Field(description="The blended effect: the impact i the score weighs")
    low: float
    high: float


class KpiReason(BaseModel):
    """One KPI's part of a relevance score: contribution = (1 - beta) w g c i / D."""

    kpi: str = Field(description="KPI slug", examples=["EC-I-WS-3C"])
    code: str = Field(description="Official U4SSC code", examples=["EC: I: WS: 3C"])
    name: str
    data_point: str | None = Field(
        description="The data point the claim is on, if any (NO2, PM10, ...): then gap, achievement and "
        "data_confidence are that data point's; otherwise the KPI's (the mean over its data points)"
    )
    gap: float | None = Field(
        description="The city's gap g = 1 - achievement, on the data point the claim names or else the KPI; "
        "null: no value reported"
    )
    achievement: float | None
    data_confidence: float = Field(description="Confidence in the city's value (quality, verification)")
    benchmark_confidence: float = Field(
        description="Confidence in the benchmark the gap is measured against (its rating: high, medium, low); "
        "c = data_confidence x benchmark_confidence"
    )
    kpi_weight: float = Field(description="w")
    expected_effect: float = Field(description="Share of the gap the solution expects to close")
    evidence_level: str = Field(description="claimed, piloted or verified; none: no claim, outcomes only")
    evidence_weight: float
    impact: float = Field(
        description="i: u4ssc-match/2 expected effect x evidence weight; /3 the estimate learned from outcomes"
    )
    estimate: EffectEstimate | None = Field(description="u4ssc-match/3: how the impact was learned")
    case_study_id: int | None = Field(description="The case study that verifies the claim")
    contribution: float


class EvidenceItem(BaseModel):
    """A deployment or published case study of the solution in a city like this one."""

    kind: str = Field(description="deployment or case_study")
    id: int
    title: str
    year: int | None
    city: CityRef
    similarity: float = Field(description="Context similarity of that city to this one")
    weight: float = Field(description="Weight of this kind of evidence (settings)")
    counted: float = Field(description="similarity x weight: its part of the weighted count")


class SimilarCitiesReason(BaseModel):
    """u4ssc-match/3: contribution = beta x relevance x count / (count + half), a bounded factor on the need;
    /2: contribution = beta x count / (count + half)."""

    weighted_count: float = Field(description="x: sum of `counted` over the items")
    half: float = Field(description="The count at which the evidence term reaches one half")
    weight: float = Field(description="beta: the share of the relevance (/2: of the score) this term can reach")
    relevance: float | None = Field(
        description="u4ssc-match/3: the need-weighted relevance the term multiplies (kpi_term / (1 - beta))"
    )
    contribution: float
    items: list[EvidenceItem]


class RelevanceReasons(BaseModel):
    kpis: list[KpiReason] = Field(description="Every KPI the solution addresses, largest contribution first")
    normaliser: float = Field(
        description="D: sum of w x impact over the KPIs the solution addresses, divided by its largest impact"
    )
    kpi_term: float = Field(description="Sum of the KPI contributions")
    similar_cities: SimilarCitiesReason


class SolutionMatchOut(BaseModel):
    rank: int
    solution: SolutionRef
    score: float = Field(description="kpi_term + similar_cities.contribution, in [0, 1]")
    featured_in_hub: bool = Field(description="Featured in the hub's catalogue (scope=hub)")
    reasons: RelevanceReasons


class MissingKpi(BaseModel):
    kpi: str
    code: str
    name: str
    reason: str


class UnmeasuredKpi(BaseModel):
    kpi: str
    code: str
    name: str
    data_point: str | None
    expected_effect: float
    evidence_level: str
    impact: float


class UnmeasuredMatchOut(BaseModel):
    """A listing that may help where the city has no data: it claims KPIs the city does not report, and
    none where it reports a gap. Not ranked with the matches: nothing says the city needs it."""

    rank: int
    solution: SolutionRef
    potential: float = Field(
        description="sum of w x impact over the claimed KPIs the city does not report, / D: its relevance if "
        "the city were as far as can be from every one of them"
    )
    kpis: list[UnmeasuredKpi] = Field(description="The claimed KPIs the city does not report")


class MatchConfidence(BaseModel):
    """How far the city's own data carries its matches."""

    level: str = Field(description="none, low, medium or high")
    scored_kpis: int = Field(description="KPIs with a value the U4SSC method could score")
    scorable_kpis: int = Field(description="KPIs that have a benchmark and a known direction")
    total_kpis: int
    mean_data_confidence: float | None
    detail: str


class SolutionMatchesOut(BaseModel):
    city: CityRef
    method_version: str
    scope: MatchScope
    hubs: list[int] = Field(description="The hubs whose catalogues were used (scope=hub)")
    candidates: int = Field(description="Solutions that passed the hard filters")
    confidence: MatchConfidence
    missing_kpis: list[MissingKpi] = Field(description="KPIs not scored for this city, and why")
    items: list[SolutionMatchOut] = Field(
        description="u4ssc-match/3: only listings that address a KPI where the city has a gap"
    )
    unmeasured: list[UnmeasuredMatchOut] | None = Field(
        default=None,
        description="include=unmeasured: listings that may help where the city has no data (a separate list)",
    )


class CityLeadOut(BaseModel):
    rank: int
    city: CityRef
    score: float
    scored_kpis: int
    reasons: RelevanceReasons


class CityLeadsOut(BaseModel):
    solution: SolutionRef
    method_version: str
    scope: LeadScope
    candidates: int
    items: list[CityLeadOut]


class TwinKpiOut(BaseModel):
    """A KPI where one city is weak and the other strong: help = c_weak c_strong (a_strong - a_weak)."""

    kpi: str
    code: str
    name: str
    weak_achievement: float
    strong_achievement: float
    confidence: float
    help: float
    contribution: float


class ComplementarityOut(BaseModel):
    score: float
    contribution: float
    partner_helps_city: float = Field(description="d_in: the partner's help where this city is weak")
    city_helps_partner: float = Field(description="d_out: this city's help where the partner is weak")
    balance: float = Field(description="1: both ways equally; 0: one way")
    partner_helps_city_kpis: list[TwinKpiOut]
    city_helps_partner_kpis: list[TwinKpiOut]


class SharedCategoryOut(BaseModel):
    dimension: str
    subdimension: str
    category: str
    city_achievement: float
    partner_achievement: float
    contribution: float


class SharedChallengesOut(BaseModel):
    score: float = Field(description="Jaccard index of the two cities' weak categories")
    contribution: float
    weak_in_either: int
    categories: list[SharedCategoryOut]


class ContextPartOut(BaseModel):
    name: str = Field(description="population, region (UN subregion), climate (Koeppen) or income (World Bank)")
    similarity: float
    weight: float
    contribution: float
    city_value: str | None
    partner_value: str | None


class ContextOut(BaseModel):
    score: float
    contribution: float
    parts: list[ContextPartOut]


class TwinMatchOut(BaseModel):
    rank: int
    city: CityRef
    score: float = Field(description="complementarity + shared_challenges + context contributions")
    scored_kpis: int
    complementarity: ComplementarityOut
    shared_challenges: SharedChallengesOut
    context: ContextOut


class TwinMatchesOut(BaseModel):
    city: CityRef
    method_version: str
    eligible: bool = Field(description="False when the city reports too few KPIs to be matched")
    min_reported_kpis: int
    candidates: int
    confidence: MatchConfidence
    items: list[TwinMatchOut]


class MatchRunIn(InputModel):
    """Save a match: its inputs and its ranking are frozen for later (a procurement file, a council paper)."""

    model_config = ConfigDict(extra="forbid")

    kind: MatchKind
    limit: int = Field(default=20, ge=1, le=100)
    scope: MatchScope | None = Field(default=None, description="kind=solutions only")
    hub: Id | None = Field(default=None, description="kind=solutions only")
    category: str | None = Field(default=None, min_length=1, max_length=64, description="kind=solutions only")
    language: str | None = Field(default=None, pattern="^[A-Za-z]{2}$", description="kind=solutions only")


class MatchRunSummaryOut(BaseModel):
    id: int
    city_id: int
    kind: MatchKind
    method_version: str
    parameters: dict[str, Any]
    results: int
    created_by_user_id: int | None
    created_at: datetime


class MatchRunOut(MatchRunSummaryOut):
    weights: dict[str, Any] = Field(description="Every weight and threshold in force")
    inputs: dict[str, Any] = Field(description="The city's values and gaps used, and the confidence summary")
    ranking: list[dict[str, Any]] = Field(description="The ranking with its reasons, as computed then")
