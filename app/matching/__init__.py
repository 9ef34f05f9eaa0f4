"""Scoring and matching arithmetic: plain numbers and NumPy arrays in, scores with their parts out.

Imports nothing from the database, the web framework or other app packages. Services load the data and
call these functions; tests and benchmarks call them directly.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.matching.matching import (
        CityContext,
        CityMatrix,
        Complementarity,
        ContextArrays,
        ContextPart,
        ContextSimilarity,
        ImpactMatrix,
        ImpactOverrides,
        KpiContribution,
        RelevanceMatch,
        RelevanceResult,
        SharedCategory,
        SharedChallenges,
        TwinKpi,
        TwinMatch,
        TwinResult,
        city_leads,
        context_similarity,
        similar_evidence,
        solution_relevance,
        stable_hash,
        top_k_indices,
        twin_partners,
    )
    from app.matching.outcomes import OutcomeCells
    from app.matching.scoring import (
        BANDS,
        DIRECTIONS,
        EDGE_TOLERANCE,
        MISSING_REASONS,
        POINT_THRESHOLDS,
        DataPointScore,
        KpiScore,
        MissingItem,
        RollUp,
        Scorecard,
        ScoredArray,
        ScoreItem,
        Status,
        band_for,
        build_scorecard,
        confidence_array,
        encode_directions,
        mean_by_group,
        points_from_achievement,
        score_values,
    )
    from app.matching.weights import ALGORITHMS, DEFAULT_WEIGHTS, EVIDENCE_LEVELS, QUALITY_LEVELS, MatchingWeights

__all__ = [
    "ALGORITHMS",
    "BANDS",
    "DEFAULT_WEIGHTS",
    "DIRECTIONS",
    "EDGE_TOLERANCE",
    "EVIDENCE_LEVELS",
    "MISSING_REASONS",
    "POINT_THRESHOLDS",
    "QUALITY_LEVELS",
    "CityContext",
    "CityMatrix",
    "Complementarity",
    "ContextArrays",
    "ContextPart",
    "ContextSimilarity",
    "DataPointScore",
    "ImpactMatrix",
    "ImpactOverrides",
    "KpiContribution",
    "KpiScore",
    "MatchingWeights",
    "MissingItem",
    "OutcomeCells",
    "RelevanceMatch",
    "RelevanceResult",
    "RollUp",
    "ScoreItem",
    "Scorecard",
    "ScoredArray",
    "SharedCategory",
    "SharedChallenges",
    "Status",
    "TwinKpi",
    "TwinMatch",
    "TwinResult",
    "band_for",
    "build_scorecard",
    "city_leads",
    "confidence_array",
    "context_similarity",
    "encode_directions",
    "mean_by_group",
    "points_from_achievement",
    "score_values",
    "similar_evidence",
    "solution_relevance",
    "stable_hash",
    "top_k_indices",
    "twin_partners",
]

# NumPy (app.matching.matching) is imported when one of these names is first used, not with the package:
# `app.core.config` imports `app.matching.weights`, and a command that only reads its settings should not
# pay for NumPy (PEP 562).
_SUBMODULES = ("weights", "outcomes", "scoring", "matching")


def __getattr__(name: str) -> Any:
    if name in __all__:
        for submodule in _SUBMODULES:
            module = importlib.import_module(f"app.matching.{submodule}")
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'app.matching' has no attribute {name!r}")
