"""Every weight and threshold of the scoring and matching arithmetic, with its documented default.

The defaults are the platform's choice (the U4SSC method fixes only the point bands, see
`app.matching.scoring`); an operator may override any of them through settings. Every result carries
`MatchingWeights.method_version`, so a stored match can be told apart from one computed under other rules:
change the version string whenever a default changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final

#: The three evidence levels of a solution's KPI impact claim, weakest first.
EVIDENCE_LEVELS: Final = ("claimed", "piloted", "verified")

#: The matching algorithms: /2 adds similar-city evidence to the need term and takes the vendor's claimed
#: effect as it is; /3 ranks need first (evidence a bounded factor on it, no need no rank) and learns the
#: expected effects from measured outcomes. `method_version` selects one; saved runs keep theirs.
ALGORITHMS: Final = ("u4ssc-match/2", "u4ssc-match/3")

#: U4SSC's six data-quality levels, from an accurate measurement down to an unknown method.
QUALITY_LEVELS: Final = ("measured", "calculated", "estimated", "modelled", "expert_opinion", "unknown")


# Fields that are shares or factors and must lie in [0, 1].
_UNIT_FIELDS: Final = (
    "evidence_claimed",
    "evidence_piloted",
    "evidence_verified",
    "quality_measured",
    "quality_calculated",
    "quality_estimated",
    "quality_modelled",
    "quality_expert_opinion",
    "quality_unknown",
    "benchmark_high",
    "benchmark_medium",
    "benchmark_low",
    "benchmark_unrated",
    "similar_evidence_weight",
    "similar_city_min_similarity",
    "weak_below",
    "strong_from",
    "two_way_bonus",
    "climate_group_credit",
    "outcome_pooled_weight",
    "outcome_quality_dated",
    "outcome_quality_undated",
)


@dataclass(frozen=True, slots=True)
class MatchingWeights:
    """Weights and thresholds of scoring and matching. Immutable; build a new one to change a value."""

    method_version: str = "u4ssc-match/3"
    """Version of the matching rules, returned with every result, and the algorithm (one of `ALGORITHMS`):
    "u4ssc-match/2" keeps the previous rules available (to compare them, or to reproduce an old run)."""

    # --- evidence behind a solution's KPI impact claim: impact i_sk = expected effect x evidence weight ----
    evidence_claimed: float = 0.4
    """Evidence weight of an impact the vendor only claims: less than half of a verified one."""
    evidence_piloted: float = 0.7
    """Evidence weight of an impact seen in a pilot, without a published case study."""
    evidence_verified: float = 1.0
    """Evidence weight of an impact verified by a case study with before and after values."""

    # --- confidence in a city's KPI value, from its data quality (U4SSC's six levels) ----------------------
    quality_measured: float = 1.0
    """Confidence in a value from an accurate, direct measurement."""
    quality_calculated: float = 0.9
    """Confidence in a value calculated from measured data."""
    quality_estimated: float = 0.75
    """Confidence in an estimate from partial data."""
    quality_modelled: float = 0.6
    """Confidence in a modelled value."""
    quality_expert_opinion: float = 0.45
    """Confidence in an expert's judgement."""
    quality_unknown: float = 0.3
    """Confidence in a value whose method is unknown (also used when no quality is recorded)."""
    verified_factor: float = 1.0
    """Multiplies the quality confidence of a verified value (capped at 1): verification adds no bonus on
    top of the quality level by default, it only avoids the penalty below."""
    unverified_factor: float = 0.85
    """Multiplies the quality confidence of a value nobody verified: a 15 % penalty by default."""

    # --- confidence in the benchmark a gap is measured against (kpi_benchmark.confidence) ----------------
    # A gap is only as firm as its target: the seeded benchmarks are the platform's defaults, each rated for
    # how defensible its number is. A city 80 % short of a WHO guideline needs more than one 80 % short of
    # a "full coverage" convention that no international body sets.
    benchmark_high: float = 1.0
    """Benchmark rated high: an international numeric target (WHO guideline, SDG, EU law)."""
    benchmark_medium: float = 0.8
    """Benchmark rated medium: a policy ambition or a target read across from a related indicator."""
    benchmark_low: float = 0.6
    """Benchmark rated low: a convention (full coverage, best city) with no international numeric target."""
    benchmark_unrated: float = 0.6
    """Benchmark with no rating (one an admin set without one, say): counted as low."""

    # --- solutions for a city / cities for a solution ------------------------------------------------------
    default_kpi_weight: float = 1.0
    """Weight w_k of a KPI when the city has set no priority. Only ratios between weights matter."""
    similar_evidence_weight: float = 0.15
    """beta. u4ssc-match/3: the most that deployments and case studies in similar cities can add to a
    listing's need-weighted relevance, as a factor: score = relevance x ((1 - beta) + beta x evidence term),
    so evidence strengthens need that exists and never creates it. u4ssc-match/2: the share of the score
    that came from that evidence alone, score = (1 - beta) x relevance + beta x evidence term."""
    similar_evidence_half: float = 2.0
    """Similarity-weighted count of deployments and case studies at which the evidence term reaches 0.5:
    term = x / (x + this), so it grows with evidence but never reaches 1."""
    similar_city_min_similarity: float = 0.5
    """Context similarity from which another city counts as similar when evidence is tallied."""

    # --- expected effects learned from measured outcomes (u4ssc-match/3) -------------------------------
    # The effect of a listing on a KPI is an empirical-Bayes (shrinkage) estimate: the vendor's claim is the
    # prior (mean: claimed effect x evidence weight; strength: outcome_prior_strength x evidence weight) and
    # each case-study outcome an observation of the share of the gap closed, weighed by its quality and by
    # the similarity of its city to the asking city. See app.matching.outcomes.
    outcome_prior_strength: float = 2.0
    """kappa: a verified claim weighs as much as this many outcomes from an identical city (a claimed one
    0.4 times that, with the default evidence weights): with 2, one such outcome moves the estimate a third
    of the way from the claim to what was measured, four of them two thirds."""
    outcome_pooled_weight: float = 0.5
    """Weight of an outcome measured for another listing of the same category on the same KPI, used for a
    claim that has no outcome of its own (and split between that listing's categories)."""
    outcome_quality_dated: float = 1.0
    """Quality weight of an outcome whose before and after values both carry their year, when the city's
    own series does not hold them (else their U4SSC quality x verified factor, the lower of the two)."""
    outcome_quality_undated: float = 0.5
    """Quality weight of an outcome without its years (derived or approximate before/after values)."""
    outcome_interval_z: float = 1.645
    """Half-width of the estimate's interval in standard errors (1.645: a 90 % interval); the standard
    error is sqrt(m (1 - m) / (n + 1)) with n = prior strength + outcome weight, as for a Beta mean."""

    # --- weak and strong KPIs (twin matching) --------------------------------------------------------------
    weak_below: float = 0.66
    """A reported KPI is weak when its achievement is below this (it scores 1 or 2 points; gap > 0.34)."""
    strong_from: float = 0.95
    """A reported KPI is strong when its achievement is at least this (it scores 4 points; gap <= 0.05)."""
    min_reported_kpis: int = 10
    """Both cities of a twin match must report at least this many KPIs. Low on purpose: the public U4SSC
    reports seeded with the platform give 5 to 13 KPIs per city."""

    # --- twin-city partners: final = weighted sum of three parts (weights normalised to sum 1) ------------
    twin_complementarity_weight: float = 0.5
    """Weight of complementarity: the partner is strong (with good data) where the city is weak, and back."""
    twin_shared_weight: float = 0.2
    """Weight of shared challenges: both weak in the same categories."""
    twin_context_weight: float = 0.3
    """Weight of context similarity: population, region, climate, income."""
    two_way_bonus: float = 0.5
    """lambda in complementarity = mean of the two directions x ((1 - lambda) + lambda x balance), where
    balance = geometric mean / arithmetic mean of the two directions (1 when both help each other equally,
    0 for a one-way mentorship). With 0.5, a one-way pairing keeps half of its mean help."""

    # --- context similarity (weights normalised to sum 1) ---------------------------------------------------
    context_population_weight: float = 0.4
    """Weight of population similarity, 1 - |ln(p_a / p_b)| / ln(population_ratio_zero), floored at 0."""
    context_region_weight: float = 0.2
    """Weight of being in the same UN region."""
    context_climate_weight: float = 0.2
    """Weight of the same climate zone (Koeppen class); see climate_group_credit."""
    context_income_weight: float = 0.2
    """Weight of income group similarity, 1 - |step difference| / (income_groups - 1)."""
    population_ratio_zero: float = 10.0
    """Population ratio at which population similarity falls to 0 (10: a city ten times larger)."""
    climate_group_credit: float = 0.5
    """Climate similarity of two different Koeppen classes in the same main group (Cfb and Cfa)."""
    income_groups: int = 4
    """Number of ordered income groups (World Bank: low, lower-middle, upper-middle, high)."""

    # --- ranking -------------------------------------------------------------------------------------------
    rank_decimals: int = 9
    """Scores are compared for ranking after rounding to this many decimals, so that two scores equal in
    exact arithmetic but apart by floating-point noise tie, and the tie goes to the stable id hash."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if is_number and (not math.isfinite(value) or value < 0):
                raise ValueError(f"{f.name} must be a finite number >= 0, got {value!r}")
        for name in _UNIT_FIELDS:
            if getattr(self, name) > 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not self.evidence_claimed <= self.evidence_piloted <= self.evidence_verified:
            raise ValueError("evidence weights must be ordered: claimed <= piloted <= verified")
        if self.weak_below > self.strong_from:
            raise ValueError("weak_below must not exceed strong_from")
        if self.method_version not in ALGORITHMS:
            raise ValueError(f"method_version must be one of {ALGORITHMS}, got {self.method_version!r}")
        if self.outcome_prior_strength <= 0:
            raise ValueError("outcome_prior_strength must be > 0")
        if self.similar_evidence_half <= 0:
            raise ValueError("similar_evidence_half must be > 0")
        if self.population_ratio_zero <= 1:
            raise ValueError("population_ratio_zero must be > 1")
        if self.income_groups < 2:
            raise ValueError("income_groups must be >= 2")
        if self.twin_complementarity_weight + self.twin_shared_weight + self.twin_context_weight <= 0:
            raise ValueError("at least one twin part weight must be > 0")
        if (
            self.context_population_weight
            + self.context_region_weight
            + self.context_climate_weight
            + self.context_income_weight
            <= 0
        ):
            raise ValueError("at least one context weight must be > 0")

    @property
    def need_first(self) -> bool:
        """u4ssc-match/3 and later: need first, effects learned from outcomes (False: u4ssc-match/2)."""
        return self.method_version != ALGORITHMS[0]

    def evidence_weight(self, level: str) -> float:
        """The evidence weight of `claimed`, `piloted` or `verified`."""
        if level not in EVIDENCE_LEVELS:
            raise ValueError(f"unknown evidence level {level!r}; expected one of {EVIDENCE_LEVELS}")
        return float(getattr(self, f"evidence_{level}"))

    def evidence_table(self) -> tuple[float, float, float]:
        """Evidence weights indexed by the position of the level in `EVIDENCE_LEVELS`."""
        return (self.evidence_claimed, self.evidence_piloted, self.evidence_verified)

    def quality_confidence(self, quality: str | None) -> float:
        """The confidence of a data-quality level; `None` or an empty string counts as `unknown`."""
        level = quality or "unknown"
        if level not in QUALITY_LEVELS:
            raise ValueError(f"unknown data quality {quality!r}; expected one of {QUALITY_LEVELS}")
        return float(getattr(self, f"quality_{level}"))

    def benchmark_confidence(self, rating: str | None) -> float:
        """The confidence factor of a benchmark rated `high`, `medium` or `low`; anything else is unrated."""
        level = (rating or "").strip().lower()
        if level in ("high", "medium", "low"):
            return float(getattr(self, f"benchmark_{level}"))
        return self.benchmark_unrated

    def quality_table(self) -> tuple[float, ...]:
        """Quality confidences indexed by the position of the level in `QUALITY_LEVELS`."""
        return tuple(self.quality_confidence(level) for level in QUALITY_LEVELS)

    def confidence(self, quality: str | None, verified: bool) -> float:
        """Confidence in one value: quality confidence x verified or unverified factor, capped at 1."""
        factor = self.verified_factor if verified else self.unverified_factor
        return min(1.0, self.quality_confidence(quality) * factor)

    def twin_part_weights(self) -> tuple[float, float, float]:
        """(complementarity, shared challenges, context) weights, normalised to sum 1."""
        total = self.twin_complementarity_weight + self.twin_shared_weight + self.twin_context_weight
        return (
            self.twin_complementarity_weight / total,
            self.twin_shared_weight / total,
            self.twin_context_weight / total,
        )

    def context_part_weights(self) -> tuple[float, float, float, float]:
        """(population, region, climate, income) weights, normalised to sum 1."""
        total = (
            self.context_population_weight
            + self.context_region_weight
            + self.context_climate_weight
            + self.context_income_weight
        )
        return (
            self.context_population_weight / total,
            self.context_region_weight / total,
            self.context_climate_weight / total,
            self.context_income_weight / total,
        )


DEFAULT_WEIGHTS: Final = MatchingWeights()
"""The documented defaults."""
