"""The U4SSC scoring method: worked examples, edge cases and properties."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.matching import (
    BANDS,
    DEFAULT_WEIGHTS,
    MatchingWeights,
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
from app.matching import weights as weights_module

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)

H, L, T, U = "higher_is_better", "lower_is_better", "target_is_best", "undetermined"


def item(
    code: str, value: float | None, benchmark: float | None = 100.0, direction: str = H, **kw: object
) -> ScoreItem:
    base: dict[str, object] = {
        "kpi_code": code,
        "category": "Education",
        "subdimension": "Education, Health and Culture",
        "dimension": "Society and Culture",
        "value": value,
        "benchmark": benchmark,
        "direction": direction,
    }
    base.update(kw)
    return ScoreItem(**base)  # type: ignore[arg-type]


def one(value: float, benchmark: float, direction: str) -> tuple[float, int, int]:
    r = score_values([value], [benchmark], encode_directions([direction]))
    return float(r.achievement[0]), int(r.points[0]), int(r.status[0])


# --- the U4SSC worked examples ------------------------------------------------------------------------------


def test_worked_example_four_kpis_1_3_4_1() -> None:
    card = build_scorecard([item("E1", 20), item("E2", 70), item("E3", 96), item("E4", 10)])
    assert [k.points for k in card.kpis] == [1, 3, 4, 1]
    edu = card.category("Education")
    assert (edu.points, edu.max_points, edu.n_scored) == (9, 16, 4)
    assert edu.ratio == 9 / 16
    assert edu.percent == 56.25
    assert edu.band == "33-66 %"
    assert edu.missing_kpis == ()


def test_worked_example_three_reported_3_4_2() -> None:
    card = build_scorecard([item("E1", 70), item("E2", 96), item("E3", 40), item("E4", None)])
    edu = card.category("Education")
    assert (edu.points, edu.max_points, edu.n_scored) == (9, 12, 3)
    assert edu.percent == 75.0
    assert edu.band == "66-95 %"
    assert edu.missing_kpis == ("E4",)
    assert [(m.kpi_code, m.reason_code) for m in edu.missing] == [("E4", "no_value")]
    assert card.kpi("E4").achievement is None
    assert card.kpi("E4").gap is None


# --- achievement ----------------------------------------------------------------------------------------------


def test_directions_and_capping() -> None:
    assert one(50, 100, H)[:2] == (0.5, 2)
    assert one(150, 100, H)[:2] == (1.0, 4)  # capped
    assert one(-5, 100, H)[:2] == (0.0, 1)  # capped below
    assert one(200, 100, L)[:2] == (0.5, 2)
    assert one(5, 100, L)[:2] == (1.0, 4)  # b / v = 20, capped


def test_zero_value_of_lower_is_better_scores_one() -> None:
    assert one(0, 25, L) == (1.0, 4, Status.scored)
    assert one(-1, 25, L) == (1.0, 4, Status.scored)  # at or below zero meets any positive target


def test_zero_benchmark_lower_is_better_is_pass_fail() -> None:
    assert one(0, 0, L) == (1.0, 4, Status.pass_fail)
    assert one(3, 0, L) == (0.0, 1, Status.pass_fail)
    card = build_scorecard([item("P1", 0, 0, L), item("P2", 0.5, 0, L)])
    assert [(dp.points, dp.pass_fail, dp.scored) for k in card.kpis for dp in k.data_points] == [
        (4, True, True),
        (1, True, True),
    ]
    assert card.overall.points == 5
    assert card.overall.n_scored == 2


def test_target_is_best() -> None:
    assert one(1.0, 1.0, T)[:2] == (1.0, 4)
    a, p, _ = one(0.9, 1.0, T)
    assert math.isclose(a, 0.9)
    assert p == 3
    a, p, _ = one(1.1, 1.0, T)
    assert math.isclose(a, 0.9)
    assert p == 3
    assert one(2.5, 1.0, T)[:2] == (0.0, 1)  # capped at 0


@pytest.mark.parametrize(
    ("value", "benchmark", "direction", "status"),
    [
        (None, 100, H, Status.no_value),
        (float("nan"), 100, H, Status.no_value),
        (float("inf"), 100, H, Status.no_value),
        (50, None, H, Status.no_benchmark),
        (50, 100, U, Status.undetermined_direction),
        (None, None, U, Status.undetermined_direction),  # the framework's reason comes first
        (None, None, H, Status.no_benchmark),
        (50, 0, H, Status.zero_benchmark),
        (50, 0, T, Status.zero_benchmark),
        (50, -3, L, Status.negative_benchmark),
    ],
)
def test_missing_with_reason(value: float | None, benchmark: float | None, direction: str, status: Status) -> None:
    card = build_scorecard([item("M1", value, benchmark, direction), item("OK", 80)])
    m = card.kpi("M1")
    assert m.missing
    assert m.achievement is None
    assert m.points is None
    dp = m.data_points[0]
    assert dp.missing is not None
    assert dp.missing.reason_code == status.name
    assert dp.missing.reason
    edu = card.category("Education")
    assert edu.missing_kpis == ("M1",)
    assert edu.n_scored == 1
    assert edu.points == 3


def test_unknown_direction_raises() -> None:
    with pytest.raises(ValueError, match="unknown direction"):
        encode_directions(["sideways"])


# --- float edges ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("achievement", "points"),
    [
        (0.0, 1),
        (0.3299, 1),
        (0.33, 2),
        (33 / 100, 2),
        (0.6599, 2),
        (0.66, 3),
        (66 / 100, 3),
        (1 - 0.34, 3),  # 0.6599999999999999 in binary floating point
        (0.33 * 2, 3),
        (0.9499, 3),
        (0.95, 4),
        (19 / 20, 4),
        (1 - 0.05, 4),
        (1.0, 4),
    ],
)
def test_point_edges(achievement: float, points: int) -> None:
    assert int(points_from_achievement(achievement)) == points
    assert band_for(achievement) == BANDS[points - 1]


@pytest.mark.parametrize(
    ("value", "benchmark", "direction", "points"),
    [
        (66, 100, H, 3),
        (33, 100, H, 2),
        (95, 100, H, 4),
        (6.6, 10, H, 3),
        (0.66, 1, H, 3),
        (100 / 0.66, 100, L, 3),  # b / v lands within one ulp of 0.66
        (100 / 0.33, 100, L, 2),
        (1.34, 1, T, 3),  # 1 - 0.34
        (0.05, 1, T, 1),
    ],
)
def test_point_edges_from_values(value: float, benchmark: float, direction: str, points: int) -> None:
    assert one(value, benchmark, direction)[1] == points


def test_roll_up_band_edges() -> None:
    # 0.33 x 4 x 25 = 33 points of 100 exactly on the edge: band 33-66 %.
    assert band_for(33 / 100) == "33-66 %"
    assert band_for(0.25) == "0-33 %"
    assert band_for(0.95) == "95-100 %"


# --- multi-data-point KPIs and roll-ups ---------------------------------------------------------------------


def test_multi_data_point_kpi_counts_each_data_point() -> None:
    env = {"category": "Air Quality", "subdimension": "Environment", "dimension": "Environment"}
    items = [
        item("AQ", 10, 10, L, data_point="PM2.5", **env),  # a = 1 -> 4
        item("AQ", 40, 20, L, data_point="PM10", **env),  # a = 0.5 -> 2
        item("AQ", 100, 40, L, data_point="NO2", **env),  # a = 0.4 -> 2
        item("AQ", None, 40, L, data_point="SO2", **env),  # missing
        item("AQ", 50, 100, L, data_point="O3", **env),  # a = 1 -> 4
        item("GHG", 8, 4, L, **env),  # a = 0.5 -> 2
    ]
    card = build_scorecard(items)
    aq = card.kpi("AQ")
    assert aq.n_scored == 4
    assert len(aq.data_points) == 5
    assert aq.achievement == pytest.approx((1 + 0.5 + 0.4 + 1) / 4)
    assert aq.gap == pytest.approx(1 - (1 + 0.5 + 0.4 + 1) / 4)
    assert not aq.missing
    cat = card.category("Air Quality")
    assert (cat.points, cat.n_scored, cat.max_points) == (14, 5, 20)
    assert cat.ratio == 14 / 20
    assert cat.band == "66-95 %"
    assert cat.missing_kpis == ()  # AQ is scored, through four of its data points
    assert [(m.kpi_code, m.data_point, m.reason_code) for m in cat.missing] == [("AQ", "SO2", "no_value")]


def test_roll_ups_by_path() -> None:
    items = [
        item("W1", 50, category="Water and Sanitation", subdimension="ICT", dimension="Economy"),
        item("W2", 100, category="Water and Sanitation", subdimension="Infrastructure", dimension="Economy"),
        item("W3", 10, category="Water and Sanitation", subdimension="Environment", dimension="Environment"),
        item("X1", None, category="Energy", subdimension="Environment", dimension="Environment"),
    ]
    card = build_scorecard(items)
    assert len(card.categories) == 4
    with pytest.raises(KeyError):
        card.category("Water and Sanitation")
    assert card.category("Water and Sanitation", "ICT").points == 2
    assert card.category("Water and Sanitation", "Infrastructure").points == 4
    economy = card.dimension("Economy")
    assert (economy.points, economy.n_scored, economy.ratio, economy.band) == (6, 2, 0.75, "66-95 %")
    env = card.subdimension("Environment")
    assert (env.points, env.n_scored, env.missing_kpis) == (1, 1, ("X1",))
    assert card.overall.points == 7
    assert card.overall.n_scored == 3
    assert card.overall.missing_kpis == ("X1",)
    empty = card.category("Energy")
    assert empty.ratio is None
    assert empty.band is None
    assert empty.percent is None


def test_scorecard_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="twice"):
        build_scorecard([item("A", 1), item("A", 2)])
    with pytest.raises(ValueError, match="two categories"):
        build_scorecard([item("A", 1, data_point="x"), item("A", 2, data_point="y", category="Health")])


def test_scorecard_confidence() -> None:
    card = build_scorecard(
        [item("A", 50, quality="measured", verified=True), item("B", 50, quality="modelled"), item("C", None)]
    )
    assert card.kpi("A").confidence == 1.0
    assert card.kpi("B").confidence == pytest.approx(0.6 * 0.85)
    assert card.kpi("C").confidence == 0.0
    assert card.method_version == DEFAULT_WEIGHTS.method_version


# --- vectorised -------------------------------------------------------------------------------------------------


def test_vectorised_matrix_matches_scalar() -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(-1, 300, size=(50, 6))
    values[rng.random(values.shape) < 0.2] = np.nan
    benchmarks = np.array([100, 50, 0, 10, np.nan, 1.0])
    directions = encode_directions([H, L, L, T, H, U])
    r = score_values(values, benchmarks, directions)
    assert r.achievement.shape == (50, 6)
    for i in range(50):
        for j in range(6):
            a, p, s = one(values[i, j], benchmarks[j], [H, L, L, T, H, U][j])
            assert int(r.points[i, j]) == p
            assert int(r.status[i, j]) == s
            assert (math.isnan(a) and math.isnan(r.achievement[i, j])) or a == r.achievement[i, j]
    assert np.all(np.isnan(r.achievement[:, 4:]))
    assert np.array_equal(np.isnan(r.gap), ~r.scored)


def reference_achievement(v: float, b: float, d: str) -> float | None:
    """The method written out plainly, as the U4SSC text reads."""
    if d == U or not math.isfinite(b) or not math.isfinite(v) or b < 0:
        return None
    if d == H:
        return None if b == 0 else min(1.0, max(0.0, v / b))
    if d == L:
        if b == 0:
            return 1.0 if v <= 0 else 0.0
        return 1.0 if v <= 0 else min(1.0, max(0.0, b / v))
    return None if b == 0 else min(1.0, max(0.0, 1 - abs(v - b) / b))


finite = st.floats(-1e6, 1e6, allow_nan=False)
maybe = st.one_of(finite, st.just(float("nan")), st.sampled_from([0.0, 1.0, 33.0, 66.0, 95.0, 100.0]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(maybe, maybe, st.sampled_from([H, L, T, U])), min_size=1, max_size=20))
def test_property_matches_reference(rows: list[tuple[float, float, str]]) -> None:
    v, b, d = zip(*rows, strict=True)
    r = score_values(np.array(v), np.array(b), encode_directions(d))
    for i, (vi, bi, di) in enumerate(rows):
        ref = reference_achievement(vi, bi, di)
        if ref is None:
            assert not r.scored[i]
            assert np.isnan(r.achievement[i])
            assert r.points[i] == 0
        else:
            assert r.scored[i]
            assert r.achievement[i] == pytest.approx(ref, abs=1e-12)
            assert 0.0 <= r.achievement[i] <= 1.0
            assert 1 <= r.points[i] <= 4
            assert r.gap[i] == pytest.approx(1 - ref, abs=1e-12)


@given(st.floats(0, 1), st.floats(0, 1))
def test_property_points_monotone(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert points_from_achievement(lo) <= points_from_achievement(hi)


def test_mean_by_group_ignores_nan() -> None:
    x = np.array([[0.5, np.nan, 1.0, np.nan], [np.nan, np.nan, 0.2, 0.4]])
    out = mean_by_group(x, [0, 0, 1, 1], 3)
    assert out[0, 0] == 0.5
    assert out[0, 1] == 1.0
    assert np.isnan(out[1, 0])
    assert out[1, 1] == pytest.approx(0.3)
    assert np.all(np.isnan(out[:, 2]))


def test_confidence_array() -> None:
    c = confidence_array([0, 3, 5, -1], [True, False, True, False])
    assert c.tolist() == pytest.approx([1.0, 0.6 * 0.85, 0.3, 0.3 * 0.85])


# --- weights ------------------------------------------------------------------------------------------------------


def test_default_weights_are_documented_values() -> None:
    w = MatchingWeights()
    assert (w.evidence_claimed, w.evidence_piloted, w.evidence_verified) == (0.4, 0.7, 1.0)
    assert w.quality_table() == (1.0, 0.9, 0.75, 0.6, 0.45, 0.3)
    assert w.similar_evidence_weight < 0.5
    assert w.method_version == "u4ssc-match/3"
    assert w.need_first
    assert not MatchingWeights(method_version="u4ssc-match/2").need_first
    assert (w.outcome_prior_strength, w.outcome_pooled_weight, w.outcome_interval_z) == (2.0, 0.5, 1.645)
    assert (w.outcome_quality_dated, w.outcome_quality_undated) == (1.0, 0.5)
    with pytest.raises(ValueError, match="method_version"):
        MatchingWeights(method_version="u4ssc-match/9")
    assert sum(w.twin_part_weights()) == pytest.approx(1.0)
    assert sum(w.context_part_weights()) == pytest.approx(1.0)
    assert w.confidence(None, verified=True) == 0.3
    assert w.evidence_weight("piloted") == 0.7


def test_every_weight_has_a_docstring() -> None:
    tree = ast.parse(inspect.getsource(weights_module))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MatchingWeights")
    documented = set()
    for prev, node in itertools.pairwise(cls.body):
        if isinstance(prev, ast.AnnAssign) and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            assert isinstance(prev.target, ast.Name)
            documented.add(prev.target.id)
    assert documented == {f.name for f in dataclasses.fields(MatchingWeights)}


def test_weights_are_frozen_and_validated() -> None:
    w = MatchingWeights()
    with pytest.raises(AttributeError):
        w.evidence_claimed = 0.5  # type: ignore[misc]
    with pytest.raises(ValueError, match="ordered"):
        MatchingWeights(evidence_claimed=0.9)
    with pytest.raises(ValueError, match=">= 0"):
        MatchingWeights(two_way_bonus=-1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        MatchingWeights(similar_evidence_weight=1.5)
    with pytest.raises(ValueError, match="unknown data quality"):
        w.quality_confidence("guess")


def test_benchmark_confidence_by_rating() -> None:
    w = MatchingWeights()
    assert [w.benchmark_confidence(r) for r in ("high", "medium", "low")] == [1.0, 0.8, 0.6]
    assert w.benchmark_confidence("") == w.benchmark_confidence(None) == w.benchmark_unrated
    assert w.benchmark_confidence(" High ") == 1.0
    with pytest.raises(ValueError, match="benchmark_low"):
        MatchingWeights(benchmark_low=1.5)
