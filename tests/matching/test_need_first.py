"""u4ssc-match/3 arithmetic: need first, effects learned from outcomes. Worked examples and properties of the
pure functions (no database)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.matching import DEFAULT_WEIGHTS, ImpactOverrides, MatchingWeights, OutcomeCells, solution_relevance
from app.matching.outcomes import blend, interval, observed_shares, prior
from app.matching.scoring import encode_directions

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)

BETA = DEFAULT_WEIGHTS.similar_evidence_weight
KAPPA = DEFAULT_WEIGHTS.outcome_prior_strength
NAN = float("nan")
LOWER, HIGHER = encode_directions(["lower_is_better", "higher_is_better"]).tolist()
unit = st.floats(0.0, 1.0, allow_nan=False)


def ids(n: int) -> list[str]:
    return [f"s{i}" for i in range(n)]


def test_worked_example_need_first() -> None:
    """The /2 worked example read by /3: evidence multiplies need, and no need is no rank."""
    gaps = np.array([0.5, NAN, 1.0, 0.0])
    conf = np.array([1.0, 1.0, 0.5, 1.0])
    impacts = np.array([[1.0, 0, 0, 0], [0, 0, 0.4, 0], [1.0, 0, 0, 1.0], [0, 1.0, 0, 0]])
    r = solution_relevance(gaps, conf, None, impacts, [2, 0, 0, 2], ids=ids(4), top_k=4)
    assert r.relevance == pytest.approx([0.5, 0.2, 0.25, 0.0])
    evidence = 2 / (2 + DEFAULT_WEIGHTS.similar_evidence_half)
    assert r.scores == pytest.approx([0.5 * (1 - BETA + BETA * evidence), 0.2 * (1 - BETA), 0.25 * (1 - BETA), 0.0])
    # s3 claims only a KPI the city does not report, and has the most evidence: under /3 it is not ranked.
    assert [m.id for m in r.top] == ["s0", "s2", "s1"]
    assert r.ranked.tolist() == [True, True, True, False]
    s0 = r.top[0]
    assert s0.similar_contribution == pytest.approx(BETA * 0.5 * evidence)
    assert s0.kpi_term + s0.similar_contribution == pytest.approx(s0.score)
    assert r.method_version == "u4ssc-match/3"


def test_observed_share_and_the_blend() -> None:
    # Fjellhamn's water loss 31 % -> 19.5 % against a 10 % benchmark (lower is better): 11.5 / 21 closed.
    share = observed_shares(
        [31.0, 5.0, 40.0, 80.0], [19.5, 4.0, 45.0, 90.0], [10.0, 10.0, 10.0, 100.0], [LOWER] * 3 + [HIGHER]
    )
    assert share[0] == pytest.approx(11.5 / 21)
    assert np.isnan(share[1])  # already within the benchmark: nothing to observe
    assert share[2] == 0.0  # worse: closes nothing
    assert share[3] == pytest.approx(0.5)
    # A verified claim of 60 % (prior strength kappa) and one identical-city outcome of 5 %: falls.
    m0, n0 = prior([0.6], [2])
    assert (m0[0], n0[0]) == (0.6, KAPPA)
    falls = blend(m0, n0, np.array([1.0]), np.array([0.05]))[0]
    assert falls == pytest.approx((KAPPA * 0.6 + 0.05) / (KAPPA + 1))
    assert falls < 0.6
    # A claimed 30 % (prior 0.3 x 0.4 = 0.12, strength 0.4 kappa) confirmed by two outcomes of 30 %: rises.
    m0, n0 = prior([0.3], [0])
    rises = blend(m0, n0, np.array([2.0]), np.array([2.0 * 0.3]))[0]
    assert m0[0] == pytest.approx(0.12)
    assert m0[0] < rises < 0.3
    low, high = interval(np.array([rises]), n0, np.array([2.0]), DEFAULT_WEIGHTS.outcome_interval_z)
    assert low[0] < rises < high[0]
    wider = interval(np.array([rises]), n0, np.array([0.0]), DEFAULT_WEIGHTS.outcome_interval_z)
    assert wider[1][0] - wider[0][0] > high[0] - low[0]  # fewer outcomes: a wider interval


# --- properties ----------------------------------------------------------------------------------------


@st.composite
def case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    k = draw(st.integers(1, 6))
    s = draw(st.integers(2, 12))
    gaps = draw(hnp.arrays(np.float64, k, elements=st.one_of(unit, st.just(NAN), st.just(0.0))))
    conf = draw(hnp.arrays(np.float64, k, elements=unit))
    impacts = draw(hnp.arrays(np.float64, (s, k), elements=st.one_of(st.just(0.0), unit)))
    evidence = draw(hnp.arrays(np.float64, s, elements=st.floats(0.0, 20.0)))
    return gaps, conf, impacts, evidence


@settings(max_examples=50, deadline=None)
@given(case())
def test_property_a_listing_with_no_need_never_outranks_one_with_need(c: tuple[np.ndarray, ...]) -> None:
    gaps, conf, impacts, evidence = c
    r = solution_relevance(gaps, conf, None, impacts, evidence, ids=ids(impacts.shape[0]), top_k=impacts.shape[0])
    ranked = [m.index for m in r.top]
    assert all(r.relevance[i] > 0 for i in ranked)
    assert sorted(ranked) == np.flatnonzero(r.ranked).tolist()
    need = np.round(r.relevance, 9) > 0
    if need.any():
        assert r.scores[need].min() > r.scores[~need].max(initial=-1.0)
    assert not np.any(r.ranked[~need])


@settings(max_examples=50, deadline=None)
@given(case(), st.data())
def test_property_the_score_never_falls_when_a_gap_grows(c: tuple[np.ndarray, ...], data: st.DataObject) -> None:
    gaps, conf, impacts, evidence = c
    k = data.draw(st.integers(0, gaps.shape[0] - 1))
    larger = gaps.copy()
    base = 0.0 if np.isnan(gaps[k]) else gaps[k]
    larger[k] = data.draw(st.floats(base, 1.0))  # from "not reported" (need 0) too
    a = solution_relevance(gaps, conf, None, impacts, evidence, ids=ids(impacts.shape[0]))
    b = solution_relevance(larger, conf, None, impacts, evidence, ids=ids(impacts.shape[0]))
    assert np.all(b.scores >= a.scores - 1e-12)


def _cells(n_sol: int, n_kpi: int, shares: np.ndarray, cities: np.ndarray, rng: np.random.Generator) -> OutcomeCells:
    """One outcome cell per listing, on a random KPI, with the listing's own outcomes."""
    row = np.arange(n_sol, dtype=np.intp)
    col = rng.integers(0, n_kpi, size=n_sol).astype(np.intp)
    m0, n0 = prior(rng.random(n_sol), rng.integers(0, 3, size=n_sol))
    n_out = shares.shape[0]
    return OutcomeCells(
        row=row,
        col=col,
        prior_mean=m0,
        prior_strength=n0,
        has_claim=np.ones(n_sol, dtype=np.bool_),
        outcome_cell=(np.arange(n_out) % n_sol).astype(np.intp),
        outcome_city=cities.astype(np.intp),
        outcome_share=shares,
        outcome_quality=np.where(np.arange(n_out) % 2 == 0, 1.0, 0.5),
    )


@settings(max_examples=50, deadline=None)
@given(case(), st.integers(0, 2**32 - 1), st.data())
def test_property_a_larger_measured_improvement_never_lowers_a_listings_rank(
    c: tuple[np.ndarray, ...], seed: int, data: st.DataObject
) -> None:
    gaps, conf, impacts, evidence = c
    n_sol, n_kpi = impacts.shape
    rng = np.random.default_rng(seed)
    n_out = int(rng.integers(1, 2 * n_sol + 1))
    shares = rng.random(n_out)
    cells = _cells(n_sol, n_kpi, shares, rng.integers(0, 4, size=n_out), rng)
    similarity = rng.random(4)
    # The claims' matrix: the priors, where the cells are (the normaliser D stays the claims').
    claims = impacts.copy()
    claims[cells.row, cells.col] = np.maximum(claims[cells.row, cells.col], cells.prior_mean)

    def ranking(r_shares: np.ndarray) -> list[int]:
        moved = replace(cells, outcome_share=r_shares)
        overrides = ImpactOverrides(cells.row, cells.col, moved.estimates(similarity))
        r = solution_relevance(gaps, conf, None, claims, evidence, ids=ids(n_sol), top_k=n_sol, overrides=overrides)
        return [m.index for m in r.top]

    j = data.draw(st.integers(0, n_out - 1))
    better = shares.copy()
    better[j] = data.draw(st.floats(float(shares[j]), 1.0))
    listing = int(cells.outcome_cell[j])
    before, after = ranking(shares), ranking(better)
    if listing in before:
        assert listing in after
        assert after.index(listing) <= before.index(listing)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_property_ties_go_to_the_stable_hash(n: int, seed: int) -> None:
    """Identical listings tie; their order is that of the stable hash of their ids, whatever the input order."""
    from app.matching import stable_hash

    rng = np.random.default_rng(seed)
    gaps, conf = rng.random(3), rng.random(3)
    impacts = np.tile(rng.random(3), (n, 1))
    names = [f"listing-{rng.integers(10**9)}-{i}" for i in range(n)]
    order = rng.permutation(n)
    r = solution_relevance(gaps, conf, None, impacts[order], None, ids=[names[i] for i in order], top_k=n)
    keys = stable_hash(names)
    assert [m.id for m in r.top] == [names[i] for i in np.argsort(keys, kind="stable")]


def test_v2_is_still_available() -> None:
    v2 = MatchingWeights(method_version="u4ssc-match/2")
    r = solution_relevance([0.0], [1.0], None, [[1.0]], [5.0], v2, ids=["a"])
    assert [m.id for m in r.top] == ["a"]  # /2 ranks evidence alone
    assert r.scores[0] == pytest.approx(BETA * 5 / (5 + v2.similar_evidence_half))
    assert solution_relevance([0.0], [1.0], None, [[1.0]], [5.0], ids=["a"]).top == ()
