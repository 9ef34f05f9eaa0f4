"""Solutions for a city, cities for a solution, twin partners: worked cases and properties."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.matching import (
    DEFAULT_WEIGHTS,
    CityContext,
    CityMatrix,
    ImpactMatrix,
    MatchingWeights,
    RelevanceResult,
    TwinResult,
    city_leads,
    context_similarity,
    similar_evidence,
    solution_relevance,
    stable_hash,
    top_k_indices,
    twin_partners,
)

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)

NAN = float("nan")
BETA = DEFAULT_WEIGHTS.similar_evidence_weight
V2 = MatchingWeights(method_version="u4ssc-match/2")  # the previous rules, kept available by setting
TOL = 1e-9


def ids(n: int, prefix: str = "s") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def assert_reasons_add_up(result: RelevanceResult) -> None:
    for m in result.top:
        parts = math.fsum(k.contribution for k in m.kpis)
        assert parts == pytest.approx(m.kpi_term, abs=TOL)
        assert parts + m.similar_contribution == pytest.approx(m.score, abs=TOL)
        assert m.score == result.scores[m.index]
        for k in m.kpis:
            assert k.impact > 0
            gap = 0.0 if k.gap is None else k.gap
            if m.normaliser == 0:  # every KPI it addresses has weight 0
                assert k.contribution == 0
                continue
            expected = (1 - BETA) * k.kpi_weight * gap * k.confidence * k.impact / m.normaliser
            assert k.contribution == pytest.approx(expected, abs=TOL)


def assert_twin_reasons_add_up(result: TwinResult) -> None:
    for m in result.top:
        c, s, x = m.complementarity, m.shared, m.context
        assert c.contribution + s.contribution + x.contribution == pytest.approx(m.score, abs=TOL)
        kpis = c.partner_helps_city_kpis + c.city_helps_partner_kpis
        assert math.fsum(k.contribution for k in kpis) == pytest.approx(c.contribution, abs=TOL)
        assert math.fsum(k.contribution for k in s.categories) == pytest.approx(s.contribution, abs=TOL)
        assert math.fsum(p.contribution for p in x.parts) == pytest.approx(x.contribution, abs=TOL)
        for k in kpis:
            assert k.weak_achievement < DEFAULT_WEIGHTS.weak_below <= DEFAULT_WEIGHTS.strong_from
            assert k.strong_achievement >= DEFAULT_WEIGHTS.strong_from - 1e-9


# --- solutions for a city: worked example ------------------------------------------------------------------


def test_relevance_worked_example() -> None:
    gaps = np.array([0.5, NAN, 1.0, 0.0])
    conf = np.array([1.0, 1.0, 0.5, 1.0])
    impacts = np.array(
        [
            [1.0, 0.0, 0.0, 0.0],  # aimed at KPI 0: 0.5 x 1 x 1 / 1
            [0.0, 0.0, 0.4, 0.0],  # claimed effect on KPI 2: 1 x 0.5 x 0.4 / 1
            [1.0, 0.0, 0.0, 1.0],  # KPI 0 plus a KPI where the city has no gap: (0.5 + 0) / 2
            [0.0, 1.0, 0.0, 0.0],  # only a KPI the city does not report: 0
        ]
    )
    r = solution_relevance(gaps, conf, None, impacts, [0, 0, 0, 2], V2, ids=ids(4), top_k=4)
    main = np.array([0.5, 0.2, 0.25, 0.0]) * (1 - BETA)
    assert r.kpi_term == pytest.approx(main)
    assert r.similar_term == pytest.approx([0, 0, 0, BETA * 0.5])  # 2 / (2 + 2)
    assert r.scores == pytest.approx(main + r.similar_term)
    assert [m.id for m in r.top] == ["s0", "s2", "s1", "s3"]
    top = r.top[0]
    assert top.normaliser == 1.0
    assert [(k.kpi, k.gap, k.confidence, k.impact) for k in top.kpis] == [(0, 0.5, 1.0, 1.0)]
    assert r.top[3].kpis[0].gap is None  # not reported: shown, contributes 0
    assert r.method_version == "u4ssc-match/2"
    assert_reasons_add_up(r)


def test_kpi_weights_and_normaliser() -> None:
    gaps = np.array([1.0, 1.0])
    conf = np.ones(2)
    impacts = np.array([[1.0, 1.0], [1.0, 0.0]])
    r = solution_relevance(gaps, conf, [3.0, 1.0], impacts, None, ids=ids(2))
    assert r.top[0].normaliser == 4.0
    assert r.top[1].normaliser == 3.0
    # Only ratios of the weights matter.
    r2 = solution_relevance(gaps, conf, [0.3, 0.1], impacts, None, ids=ids(2))
    assert r2.scores == pytest.approx(r.scores)
    zero = solution_relevance(gaps, conf, [0.0, 0.0], impacts, None, ids=ids(2))
    assert np.all(zero.scores == 0)


def test_a_minor_side_claim_dilutes_in_proportion_to_its_impact() -> None:
    # City: far from the target on KPI 0 (the listing's main claim), no gap on KPIs 1 and 2.
    gaps = np.array([0.8, 0.0, 0.0])
    conf = np.ones(3)
    impacts = np.array(
        [
            [0.25, 0.0, 0.0],  # main claim only
            [0.25, 0.025, 0.025],  # the same plus two side benefits a tenth as strong
            [0.25, 0.25, 0.25],  # the same plus two claims as strong as the main one
        ]
    )
    r = solution_relevance(gaps, conf, None, impacts, None, ids=ids(3), top_k=3)
    assert [m.normaliser for m in r.top] == pytest.approx([1.0, 1.2, 3.0])
    assert r.kpi_term == pytest.approx(np.array([0.2, 0.2 / 1.2, 0.2 / 3.0]) * (1 - BETA))
    assert_reasons_add_up(r)
    # The normaliser never depends on the gaps: the score stays monotone in every gap.
    worse = solution_relevance(gaps + np.array([0.1, 0.5, 0.5]), conf, None, impacts, None, ids=ids(3), top_k=3)
    assert [m.normaliser for m in worse.top] == [m.normaliser for m in r.top]
    assert np.all(worse.scores >= r.scores)


def test_impact_matrix_from_claims() -> None:
    im = ImpactMatrix.from_claims(
        3, 4, [0, 0, 1, 2, 2], [0, 1, 3, 2, 2], [1.0, 0.5, 1.0, 0.5, 0.9], ["claimed", "verified", "piloted", 2, 0]
    )
    expected = np.zeros((3, 4))
    expected[0, 0] = 0.4
    expected[0, 1] = 0.5
    expected[1, 3] = 0.7
    expected[2, 2] = max(0.5 * 1.0, 0.9 * 0.4)
    assert im.values.dtype == np.float32
    assert im.values == pytest.approx(expected)
    assert im.support_count.tolist() == [2, 1, 1]
    with pytest.raises(ValueError, match="unknown evidence"):
        ImpactMatrix.from_claims(1, 1, [0], [0], [1.0], ["rumoured"])
    with pytest.raises(ValueError, match="out of range"):
        ImpactMatrix.from_claims(1, 1, [0], [1], [1.0], ["claimed"])


def test_evidence_weights_order_claimed_piloted_verified() -> None:
    im = ImpactMatrix.from_claims(3, 1, [0, 1, 2], [0, 0, 0], [0.8, 0.8, 0.8], ["claimed", "piloted", "verified"])
    r = solution_relevance([0.9], [1.0], None, im, None, ids=["c", "p", "v"])
    assert [m.id for m in r.top] == ["v", "p", "c"]


def test_impact_matrix_cleans_and_does_not_touch_input() -> None:
    raw = np.array([[NAN, 2.0, -1.0, 0.5]], dtype=np.float32)
    im = ImpactMatrix.from_dense(raw)
    assert im.values.tolist() == [[0.0, 1.0, 0.0, 0.5]]
    assert raw.flags.writeable
    assert np.isnan(raw[0, 0])
    dense = ImpactMatrix.from_dense(np.ones((3, 4)))
    assert dense.support_rows is None  # dense: no sparse support kept
    w = np.array([1.0, 2.0, 3.0, 4.0])
    assert dense.normalisers(w).tolist() == [10.0] * 3


def test_mask_and_top_k() -> None:
    impacts = np.eye(3)
    r = solution_relevance(np.ones(3), np.ones(3), None, impacts, None, ids=ids(3), mask=[True, False, True], top_k=10)
    assert sorted(m.index for m in r.top) == [0, 2]
    r = solution_relevance(np.ones(3), np.ones(3), None, impacts, None, ids=ids(3), mask=[False] * 3)
    assert r.top == ()
    r = solution_relevance(np.ones(3), np.ones(3), None, impacts, None, ids=ids(3), top_k=0)
    assert r.top == ()


def test_ties_broken_by_stable_hash_not_by_name_or_order() -> None:
    names = ["Acme", "Zenith", "Bolt", "Mercury", "Aardvark"]
    keys = stable_hash(names)
    assert keys.dtype == np.uint64
    assert stable_hash(names).tolist() == keys.tolist()  # stable
    impacts = np.tile([0.5, 0.25], (5, 1))  # identical listings
    r = solution_relevance([1.0, 0.5], [1.0, 1.0], None, impacts, None, ids=names, top_k=5)
    expected = [names[i] for i in np.argsort(keys)]
    assert [m.id for m in r.top] == expected
    # Reversed input order, same answer.
    r2 = solution_relevance([1.0, 0.5], [1.0, 1.0], None, impacts, None, ids=names[::-1], top_k=5)
    assert [m.id for m in r2.top] == expected
    # Top 2 of the tie: the two smallest hashes, whatever the order.
    r3 = solution_relevance([1.0, 0.5], [1.0, 1.0], None, impacts, None, ids=names[::-1], top_k=2)
    assert [m.id for m in r3.top] == expected[:2]


def test_top_k_indices_partial_ties() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1, 0.9])
    keys = np.array([5, 9, 1, 3, 0, 2], dtype=np.uint64)
    assert top_k_indices(scores, keys, 3).tolist() == [5, 1, 2]
    assert top_k_indices(scores, keys, 4).tolist() == [5, 1, 2, 3]
    assert top_k_indices(scores, keys, 100).tolist() == [5, 1, 2, 3, 0, 4]
    mask = np.array([True, False, True, True, True, True])
    assert top_k_indices(scores, keys, 2, mask).tolist() == [5, 2]


def test_similar_evidence_and_context() -> None:
    ctx = CityContext.from_labels(
        [100_000, 120_000, 1_000_000, None],
        ["Europe", "Europe", "Asia", "Europe"],
        ["Cfb", "Cfa", "Cfb", ""],
        ["high", "High", "lower-middle", None],
    )
    sim = context_similarity(ctx, 0)
    assert sim.population[1] == pytest.approx(1 - math.log(1.2) / math.log(10))
    assert sim.population[2] == pytest.approx(0.0)
    assert sim.population[3] == 0.0  # unknown
    assert sim.region.tolist() == [1, 1, 0, 1]
    assert sim.climate.tolist() == [1, 0.5, 1, 0]
    assert sim.income.tolist() == pytest.approx([1, 1, 1 - 2 / 3, 0])
    back = context_similarity(ctx, 1)
    assert back.total[0] == pytest.approx(sim.total[1])  # symmetric
    ev = similar_evidence(sim.total, [1, 1, 2, 3], [0, 1, 1, 2], 3, evidence_weight=[1, 2, 1, 1])
    keep = sim.total >= DEFAULT_WEIGHTS.similar_city_min_similarity
    assert keep[1]
    expected = [sim.total[1], 2 * sim.total[1] + (sim.total[2] if keep[2] else 0), sim.total[3] if keep[3] else 0]
    assert ev == pytest.approx(expected)


# --- cities for a solution -----------------------------------------------------------------------------------


def test_city_leads_equals_solution_relevance() -> None:
    rng = np.random.default_rng(7)
    gaps = rng.random((40, 9))
    gaps[rng.random(gaps.shape) < 0.3] = NAN
    conf = rng.random((40, 9))
    impacts = rng.random((25, 9)) * (rng.random((25, 9)) < 0.4)
    ev = rng.poisson(1.0, size=(40, 25)).astype(float)
    w = rng.random(9) + 0.1
    for s in range(25):
        leads = city_leads(impacts[s], gaps, conf, w, ev[:, s], ids=ids(40, "c"), top_k=5)
        assert_reasons_add_up(leads)
        for c in range(0, 40, 7):
            rel = solution_relevance(gaps[c], conf[c], w, impacts, ev[c], ids=ids(25))
            assert leads.scores[c] == pytest.approx(rel.scores[s], abs=1e-12)


def test_city_leads_per_city_weights_and_mask() -> None:
    gaps = np.array([[1.0, 1.0], [1.0, 0.0], [NAN, NAN]])
    conf = np.ones((3, 2))
    w = np.array([[1.0, 1.0], [1.0, 3.0], [1.0, 1.0]])
    r = city_leads([1.0, 1.0], gaps, conf, w, None, ids=ids(3, "c"), mask=[True, True, False])
    assert r.kpi_term == pytest.approx([(1 - BETA), (1 - BETA) * 0.25, 0.0])
    assert [m.id for m in r.top] == ["c0", "c1"]
    assert_reasons_add_up(r)


# --- properties: relevance ----------------------------------------------------------------------------------

nice = st.sampled_from([0.0, 0.25, 0.5, 1.0])
unit = st.one_of(nice, st.floats(0, 1), st.just(NAN))


@st.composite
def relevance_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    k = draw(st.integers(1, 7))
    s = draw(st.integers(1, 25))
    gaps = draw(hnp.arrays(np.float64, k, elements=unit))
    conf = draw(hnp.arrays(np.float64, k, elements=unit))
    w = draw(hnp.arrays(np.float64, k, elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])))
    impacts = draw(hnp.arrays(np.float64, (s, k), elements=st.one_of(st.just(0.0), nice, st.floats(0, 1))))
    ev = draw(hnp.arrays(np.float64, s, elements=st.one_of(st.just(0.0), st.floats(0, 50), st.just(NAN))))
    return gaps, conf, w, impacts, ev


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(relevance_case(), st.data())
def test_property_larger_gap_never_lowers_score(case: tuple[np.ndarray, ...], data: st.DataObject) -> None:
    gaps, conf, w, impacts, ev = case
    k = data.draw(st.integers(0, gaps.shape[0] - 1))
    assume(not np.isnan(gaps[k]))
    bigger = gaps.copy()
    bigger[k] = data.draw(st.floats(float(gaps[k]), 1.0))
    for dtype in (np.float64, np.float32):
        im = ImpactMatrix.from_dense(impacts.astype(dtype))
        before = solution_relevance(gaps, conf, w, im, ev, ids=ids(impacts.shape[0])).scores
        after = solution_relevance(bigger, conf, w, im, ev, ids=ids(impacts.shape[0])).scores
        assert np.all(after >= before - 1e-15)
        helped = im.values[:, k] > 0
        assert np.all(after[~helped] == before[~helped])
    # The same, read the other way.
    for s in range(impacts.shape[0]):
        lb = city_leads(impacts[s], gaps[None], conf[None], w, ev[s : s + 1], ids=["c"]).scores
        la = city_leads(impacts[s], bigger[None], conf[None], w, ev[s : s + 1], ids=["c"]).scores
        assert la[0] >= lb[0] - 1e-15


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(relevance_case())
def test_property_scores_bounded_never_nan_reasons_add_up(case: tuple[np.ndarray, ...]) -> None:
    gaps, conf, w, impacts, ev = case
    n = impacts.shape[0]
    impacts = impacts.copy()
    impacts[0, 0] = NAN  # missing impact data counts as none
    r = solution_relevance(gaps, conf, w, impacts, ev, V2, ids=ids(n), top_k=n)
    assert not np.any(np.isnan(r.scores))
    assert np.all((r.scores >= 0) & (r.scores <= 1))
    assert r.scores == pytest.approx(r.kpi_term + r.similar_term, abs=1e-15)
    assert len(r.top) == n
    assert_reasons_add_up(r)
    assert [round(m.score, 9) for m in r.top] == sorted((round(m.score, 9) for m in r.top), reverse=True)
    leads = city_leads(impacts[0], np.tile(gaps, (3, 1)), np.tile(conf, (3, 1)), w, None, ids=ids(3, "c"))
    assert not np.any(np.isnan(leads.scores))
    assert np.all((leads.scores >= 0) & (leads.scores <= 1))
    assert_reasons_add_up(leads)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(relevance_case(), st.integers(0, 2**32 - 1), st.integers(1, 30))
def test_property_independent_of_row_and_kpi_order(case: tuple[np.ndarray, ...], seed: int, top_k: int) -> None:
    gaps, conf, w, impacts, ev = case
    n_sol, n_kpi = impacts.shape
    rng = np.random.default_rng(seed)
    ps, pk = rng.permutation(n_sol), rng.permutation(n_kpi)
    names = ids(n_sol)
    a = solution_relevance(gaps, conf, w, impacts, ev, ids=names, top_k=top_k)
    b = solution_relevance(
        gaps[pk], conf[pk], w[pk], impacts[ps][:, pk], ev[ps], ids=[names[i] for i in ps], top_k=top_k
    )
    assert [m.id for m in a.top] == [m.id for m in b.top]
    assert [m.score for m in a.top] == pytest.approx([m.score for m in b.top], abs=1e-12)
    for ma, mb in zip(a.top, b.top, strict=True):
        ra = sorted((k.kpi, round(k.contribution, 12)) for k in ma.kpis)
        rb = sorted((int(pk[k.kpi]), round(k.contribution, 12)) for k in mb.kpis)
        assert ra == rb
    # Cities for a solution: permute cities and KPIs.
    n_city = n_sol
    cg = np.tile(gaps, (n_city, 1)) * rng.random((n_city, 1))
    cc = np.tile(conf, (n_city, 1))
    la = city_leads(impacts[0], cg, cc, w, ev, ids=names, top_k=top_k)
    lb = city_leads(
        impacts[0][pk], cg[ps][:, pk], cc[ps][:, pk], w[pk], ev[ps], ids=[names[i] for i in ps], top_k=top_k
    )
    assert [m.id for m in la.top] == [m.id for m in lb.top]


# --- twin partners ------------------------------------------------------------------------------------------


def plain_context(n: int) -> CityContext:
    return CityContext(
        population=np.full(n, 100_000.0),
        region=np.zeros(n, dtype=np.intp),
        climate=np.zeros(n, dtype=np.intp),
        climate_group=np.zeros(n, dtype=np.intp),
        income=np.full(n, 3, dtype=np.intp),
    )


LOW_MIN = MatchingWeights(min_reported_kpis=1)


def test_two_way_pairing_beats_one_way_mentorship() -> None:
    # KPIs: 0, 1 (category 0), 2 (category 1), 3 neutral (category 2), 4 (category 2)
    a = np.array(
        [
            [0.45, 0.45, 0.95, 0.80, NAN],  # city Q: weak on 0 and 1, strong on 2, no data on 4
            [0.95, 0.80, 0.45, 0.80, 1.00],  # P1: strong on 0, weak on 2 -> helps both ways
            [0.95, 0.95, 0.80, 0.80, 1.00],  # P2: strong on 0 and 1 -> one-way mentor
            [0.80, 0.80, 0.80, 0.80, 0.00],  # P3: nothing to exchange (weak on 4, where Q has no data)
        ]
    )
    cities = CityMatrix.from_arrays(1 - a, np.ones_like(a), [0, 0, 1, 2, 2], LOW_MIN)
    r = twin_partners(
        0, cities, plain_context(4), replace(LOW_MIN, method_version="u4ssc-match/2"), ids=["Q", "P1", "P2", "P3"]
    )
    d_in, d_out = r.partner_helps_city, r.city_helps_partner
    assert d_in[1:].tolist() == pytest.approx([0.5 / 2, 1.0 / 2, 0.0])
    assert d_out[1:].tolist() == pytest.approx([0.5 / 1, 0.0, 0.0])
    lam = LOW_MIN.two_way_bonus
    assert r.complementarity[2] == pytest.approx((1 - lam) * 0.25)  # one way: balance 0
    assert r.complementarity[1] == pytest.approx((1 - lam) * 0.375 + lam * math.sqrt(0.125))
    assert [m.id for m in r.top] == ["P1", "P2", "P3"]
    p1 = r.top[0].complementarity
    assert [k.kpi for k in p1.partner_helps_city_kpis] == [0]
    assert [k.kpi for k in p1.city_helps_partner_kpis] == [2]
    assert r.top[1].complementarity.balance == 0.0
    assert r.complementarity[3] == 0.0  # a missing value is neither weak nor strong
    assert_twin_reasons_add_up(r)
    # u4ssc-match/3: P3 has nothing to work on with Q (no complementarity, no shared weak category): not offered.
    r3 = twin_partners(0, cities, plain_context(4), LOW_MIN, ids=["Q", "P1", "P2", "P3"])
    assert [m.id for m in r3.top] == ["P1", "P2"]
    assert r3.scores[1:3].tolist() == r.scores[1:3].tolist()
    assert not r3.eligible[3]


def test_two_way_bonus_at_equal_total_help() -> None:
    # Same total help: 0.5 both ways vs 1.0 one way.
    w = DEFAULT_WEIGHTS
    lam = w.two_way_bonus
    two_way = (1 - lam) * 0.5 + lam * math.sqrt(0.5 * 0.5)
    one_way = (1 - lam) * 0.5 + lam * 0.0
    assert two_way > one_way


def test_shared_challenges_jaccard() -> None:
    a = np.array(
        [
            [0.2, 0.3, 0.9, 0.9],  # weak categories {0, 1}
            [0.2, 0.9, 0.3, 0.9],  # weak {0, 2}
            [0.9, 0.9, 0.9, 0.9],  # none
        ]
    )
    cities = CityMatrix.from_arrays(1 - a, np.ones_like(a), [0, 1, 2, 3], LOW_MIN)
    r = twin_partners(0, cities, plain_context(3), LOW_MIN, ids=["a", "b", "c"])
    assert r.shared.tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    b = next(m for m in r.top if m.id == "b")
    assert [c.category for c in b.shared.categories] == [0]
    assert b.shared.weak_in_either == 3
    assert_twin_reasons_add_up(r)


def test_twin_hard_filters() -> None:
    rng = np.random.default_rng(1)
    g = rng.random((6, 12))
    g[2, :] = NAN  # reports nothing
    g[3, 3:] = NAN  # reports 3 KPIs
    w = MatchingWeights(min_reported_kpis=5)
    cities = CityMatrix.from_arrays(g, np.ones_like(g), np.arange(12) % 4, w)
    twinned = np.zeros(6, dtype=bool)
    twinned[4] = True
    r = twin_partners(0, cities, plain_context(6), w, already_twinned=twinned, ids=ids(6, "c"))
    assert r.city_eligible
    assert r.eligible.tolist() == [False, True, False, False, False, True]
    assert sorted(m.index for m in r.top) == [1, 5]
    r = twin_partners(0, cities, plain_context(6), w, candidates=[True] * 5 + [False], ids=ids(6, "c"))
    assert sorted(m.index for m in r.top) == [1, 4]
    r = twin_partners(3, cities, plain_context(6), w, ids=ids(6, "c"))
    assert not r.city_eligible
    assert r.top == ()
    assert not np.any(np.isnan(r.scores))
    with pytest.raises(ValueError, match="thresholds"):
        twin_partners(0, cities, plain_context(6), MatchingWeights(min_reported_kpis=5, weak_below=0.5))


@st.composite
def twin_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, CityContext]:
    n = draw(st.integers(2, 12))
    k = draw(st.integers(1, 8))
    ach = st.one_of(st.sampled_from([0.0, 0.2, 0.5, 0.66, 0.95, 1.0]), st.floats(0, 1), st.just(NAN))
    g = draw(hnp.arrays(np.float64, (n, k), elements=ach))
    c = draw(hnp.arrays(np.float64, (n, k), elements=unit))
    cats = draw(hnp.arrays(np.intp, k, elements=st.integers(0, 3)))
    codes = st.integers(-1, 3)
    ctx = CityContext(
        population=draw(hnp.arrays(np.float64, n, elements=st.one_of(st.floats(1, 1e7), st.just(NAN)))),
        region=draw(hnp.arrays(np.intp, n, elements=codes)),
        climate=draw(hnp.arrays(np.intp, n, elements=codes)),
        climate_group=draw(hnp.arrays(np.intp, n, elements=codes)),
        income=draw(hnp.arrays(np.intp, n, elements=codes)),
    )
    return g, c, cats, ctx


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(twin_case())
def test_property_twin_symmetric_bounded_and_explained(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, CityContext],
) -> None:
    g, c, cats, ctx = case
    n = g.shape[0]
    cities = CityMatrix.from_arrays(g, c, cats, LOW_MIN)
    results = [twin_partners(q, cities, ctx, LOW_MIN, ids=ids(n, "c"), top_k=n) for q in range(n)]
    for q, r in enumerate(results):
        for arr in (r.scores, r.complementarity, r.shared, r.context, r.partner_helps_city, r.city_helps_partner):
            assert not np.any(np.isnan(arr))
            assert np.all((arr >= 0) & (arr <= 1 + 1e-12))
        assert_twin_reasons_add_up(r)
        for p in range(n):
            other = results[p]
            # Complementarity(A, B) seen from A equals complementarity(B, A) seen from B.
            assert r.partner_helps_city[p] == pytest.approx(other.city_helps_partner[q], abs=1e-12)
            assert r.complementarity[p] == pytest.approx(other.complementarity[q], abs=1e-12)
            assert r.shared[p] == pytest.approx(other.shared[q], abs=1e-12)
            assert r.context[p] == pytest.approx(other.context[q], abs=1e-12)
            assert r.scores[p] == pytest.approx(other.scores[q], abs=1e-12)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(twin_case(), st.integers(0, 2**32 - 1))
def test_property_twin_independent_of_order(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, CityContext], seed: int
) -> None:
    g, c, cats, ctx = case
    n, k = g.shape
    rng = np.random.default_rng(seed)
    pc, pk = rng.permutation(n), rng.permutation(k)
    names = ids(n, "c")
    a = twin_partners(0, CityMatrix.from_arrays(g, c, cats, LOW_MIN), ctx, LOW_MIN, ids=names, top_k=5)
    ctx_p = CityContext(ctx.population[pc], ctx.region[pc], ctx.climate[pc], ctx.climate_group[pc], ctx.income[pc])
    cm_p = CityMatrix.from_arrays(g[pc][:, pk], c[pc][:, pk], cats[pk], LOW_MIN)
    q = int(np.flatnonzero(pc == 0)[0])
    b = twin_partners(q, cm_p, ctx_p, LOW_MIN, ids=[names[i] for i in pc], top_k=5)
    assert [m.id for m in a.top] == [m.id for m in b.top]
    assert [m.score for m in a.top] == pytest.approx([m.score for m in b.top], abs=1e-12)


# --- sanity at scale (no timing) -----------------------------------------------------------------------------


def test_sanity_at_full_scale() -> None:
    rng = np.random.default_rng(2024)
    n_sol, n_city, n_kpi = 100_000, 10_000, 91
    claims = n_sol * 5
    im = ImpactMatrix.from_claims(
        n_sol,
        n_kpi,
        rng.integers(0, n_sol, claims),
        rng.integers(0, n_kpi, claims),
        rng.random(claims),
        rng.integers(0, 3, claims),
    )
    gaps = (1 - rng.beta(2, 1.2, size=(n_city, n_kpi))).astype(np.float32)
    gaps[rng.random(gaps.shape) < 0.3] = np.nan
    conf = rng.choice([1.0, 0.9, 0.75, 0.6, 0.45, 0.3], size=(n_city, n_kpi)).astype(np.float32)
    sol_keys = stable_hash(range(n_sol))
    city_keys = stable_hash(range(n_city))

    r = solution_relevance(gaps[0], conf[0], None, im, rng.poisson(0.2, n_sol), tie_keys=sol_keys, top_k=20)
    assert r.scores.shape == (n_sol,)
    assert np.all(np.isfinite(r.scores))
    assert np.all((r.scores >= 0) & (r.scores <= 1))
    assert len(r.top) == 20
    assert r.top[0].score == r.scores.max()
    assert_reasons_add_up(r)
    # Same answer as a bare float64 computation of the formula.
    v = np.nan_to_num(gaps[0].astype(np.float64) * conf[0])
    values64 = im.values.astype(np.float64)
    main = values64.max(axis=1)
    mass = np.divide(values64.sum(axis=1), main, out=np.zeros_like(main), where=main > 0)
    bare = (1 - BETA) * np.divide(values64 @ v, mass, out=np.zeros_like(mass), where=mass > 0)
    assert r.kpi_term == pytest.approx(bare, abs=1e-12)

    leads = city_leads(im.values[0], gaps, conf, None, None, tie_keys=city_keys, top_k=20)
    assert leads.scores.shape == (n_city,)
    assert np.all(np.isfinite(leads.scores))
    assert_reasons_add_up(leads)

    ctx = CityContext(
        population=rng.lognormal(11, 1.5, n_city),
        region=rng.integers(0, 6, n_city),
        climate=rng.integers(0, 30, n_city),
        climate_group=rng.integers(0, 5, n_city),
        income=rng.integers(0, 4, n_city),
    )
    cities = CityMatrix.from_arrays(gaps, conf, rng.integers(0, 22, n_kpi))
    t = twin_partners(0, cities, ctx, tie_keys=city_keys, top_k=20)
    assert len(t.top) == 20
    assert np.all(np.isfinite(t.scores))
    assert_twin_reasons_add_up(t)


def test_top_k_indices_nan_ranks_last() -> None:
    scores = np.array([NAN, 0.2, NAN, 0.7])
    keys = np.arange(4, dtype=np.uint64)
    assert top_k_indices(scores, keys, 2).tolist() == [3, 1]
    assert top_k_indices(scores, keys, 4).tolist() == [3, 1, 0, 2]


# --- boundaries -------------------------------------------------------------------------------------------------


def test_matching_imports_no_database_or_web_framework() -> None:
    code = (
        "import sys, app.matching; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlmodel', 'sqlalchemy', 'fastapi', 'strawberry', 'pydantic') "
        "or (m.startswith('app.') and not m.startswith('app.matching'))); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_vocabularies_match_the_app_enums() -> None:
    """The matching code takes plain strings; they must stay the values of the app's enums."""
    try:
        from app.cities.models import DataQuality
        from app.kpis.models import Direction
    except ImportError as exc:  # the models are another team's work in progress
        pytest.skip(f"app models not importable: {exc}")
    from app.matching import DIRECTIONS, QUALITY_LEVELS

    assert tuple(d.value for d in Direction) == DIRECTIONS
    assert tuple(q.value for q in DataQuality) == QUALITY_LEVELS


def test_tiny_impacts_and_weights_never_give_nan_reasons() -> None:
    # Found by hypothesis: sub-normal impacts made D sub-normal and 1 / D overflow (inf x 0 = NaN).
    tiny = 2.22507386e-311
    r = solution_relevance([0.0, 0.0], [0.0, 0.0], [0.0, 0.5], [[tiny, tiny], [0.25, tiny]], None, ids=ids(2))
    assert_reasons_add_up(r)
    assert all(math.isfinite(k.contribution) for m in r.top for k in m.kpis)
    tiny_weights = solution_relevance([0.5, 0.5], [1, 1], [1e-310, 1e-310], [[0.25, 0.1], [0.5, 0]], None, ids=ids(2))
    assert_reasons_add_up(tiny_weights)
    assert tiny_weights.scores == pytest.approx([0.85 * 0.5 * 0.25, 0.85 * 0.5 * 0.5])
