"""Matching benchmark: solutions for a city, leads for a solution and twin partners, on the synthetic seed
(10,000 cities, 100,000 solutions, 91 KPIs), in process (the service call, store warm) and through the API
(HTTP on loopback, one uvicorn worker), each against a bare NumPy computation of the same scores
(written out by hand: relevance product, similar-city evidence, context, hard filters, argpartition; no
reasons, no SQL) measured in the same run, and checked first to give the service's scores.

    python -m bench.matching [--data-dir DIR] [--iterations 300] [--cities 10000] [--solutions 100000] [--no-http]

In process, each service call and its bare baseline take turns call by call, so that the ratios hold on a
shared machine whose speed drifts.

Without --data-dir, a temporary data dir is seeded (`citymarket seed`) and the synthetic data generated
into it (a few minutes). OPENBLAS_NUM_THREADS=1 (set here unless already set) keeps the NumPy timings
steady on a shared machine, for the bare baseline and the service alike.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from app.auth.principal import ANONYMOUS
from app.core.config import Environment, Settings
from app.core.db import make_engine
from app.matches import service
from app.matches.schemas import LeadScope, MatchScope
from app.matches.service import solutions_for_city
from app.matches.store import Snapshot, data_version, store_for
from app.matching import city_leads, solution_relevance, twin_partners
from bench.common import Timing, measure, report, seeded_data_dir, server

TOP = 20
F64 = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]


def _next(ids: list[int]) -> Callable[[], int]:
    it: Iterator[int] = cycle(ids)
    return lambda: next(it)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="a data dir that already holds the synthetic seed")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--cities", type=int, default=10_000)
    parser.add_argument("--solutions", type=int, default=100_000)
    parser.add_argument("--case-studies", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=100, help="distinct cities and solutions cycled through")
    parser.add_argument("--no-http", action="store_true", help="in process only (skip the API measurements)")
    args = parser.parse_args()
    if args.data_dir:
        run(args.data_dir.resolve(), args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        from seeds.synthetic import generate_synthetic

        seeded_data_dir(Path(tmp))
        settings = Settings(data_dir=Path(tmp), env=Environment.test)
        engine = make_engine(settings)
        generate_synthetic(
            engine, cities=args.cities, solutions=args.solutions, case_studies=args.case_studies, progress=False
        )
        engine.dispose()
        run(Path(tmp), args)


def run(data_dir: Path, args: argparse.Namespace) -> None:
    settings = Settings(data_dir=data_dir, env=Environment.test)
    engine = make_engine(settings)
    store = store_for(engine)
    with Session(engine) as session:
        started = time.perf_counter()
        version = data_version(session)
        version_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        snap = store.snapshot(session, settings.matching)
        build_s = time.perf_counter() - started
    assert snap.version == version
    n_city, n_kpi = snap.gaps.shape
    n_sol = snap.sol_ids.shape[0]
    print(f"data: {n_city:,} cities, {n_sol:,} solutions, {n_kpi} KPIs, {len(snap.evidence.kind):,} evidence rows")
    print(f"store: built in {build_s:.1f} s (data version statement {version_ms:.0f} ms); OPENBLAS_NUM_THREADS=1")

    rng = np.random.default_rng(7)
    eligible = np.flatnonzero(snap.city_public & (snap.n_scored >= snap.weights.min_reported_kpis))
    city_rows = rng.choice(eligible, size=min(args.sample, eligible.shape[0]), replace=False)
    sol_rows = rng.choice(np.flatnonzero(snap.sol_published), size=args.sample, replace=False)
    city_ids = [int(snap.city_ids[r]) for r in city_rows]
    sol_ids = [int(snap.sol_ids[r]) for r in sol_rows]

    # --- the bare NumPy baselines: the same scores, nothing else ----------------------------------------
    # What a person would write by hand over the snapshot's arrays: matrices prepared once, then per call
    # the whole score (relevance, similar-city evidence, context, hard filters) and argpartition; no
    # reasons, no SQL. `_check_bare` asserts, before timing, that they give the service's scores.
    bare = _BareNumPy(snap)

    def top(scores: F64) -> Ints:
        part = np.argpartition(-scores, TOP)[:TOP]
        return part[np.argsort(-scores[part])]

    next_city_row = _next([int(r) for r in city_rows])
    next_sol_row = _next([int(r) for r in sol_rows])

    def bare_solutions() -> None:
        top(bare.solutions(next_city_row(), sparse=False))

    def bare_solutions_sparse() -> None:
        top(bare.solutions(next_city_row(), sparse=True))

    def bare_leads() -> None:
        top(bare.leads(next_sol_row()))

    def bare_twins() -> None:
        top(bare.twins(next_city_row()))

    session = Session(engine)
    _check_bare(bare, session, settings, [int(r) for r in city_rows[:5]], [int(r) for r in sol_rows[:5]])

    # --- in process: the service calls (visibility statement, snapshot, reasons) ---------------------------
    # Each call and its bare baseline alternate, call by call, so that a slow spell of a shared machine
    # weighs on both sides of a ratio alike.
    next_city = _next(city_ids)
    next_sol = _next(sol_ids)
    n = args.iterations
    solutions, dense, sparse = _interleaved(
        [
            (
                "service solutions for a city",
                lambda: service.solution_matches(session, ANONYMOUS, settings, next_city(), limit=TOP),
            ),
            ("numpy dense V@wgc+evidence+top", bare_solutions),
            ("numpy sparse V@wgc+evidence+top", bare_solutions_sparse),
        ],
        n,
    )
    leads, bare_l = _interleaved(
        [
            (
                "service leads for a solution",
                lambda: service.solution_leads(
                    session, ANONYMOUS, settings, next_sol(), limit=TOP, scope=LeadScope.all
                ),
            ),
            ("numpy wgc@i_s+evidence+top", bare_leads),
        ],
        n,
    )
    twins, bare_t = _interleaved(
        [
            (
                "service twin partners",
                lambda: service.twin_matches(session, ANONYMOUS, settings, next_city(), limit=TOP),
            ),
            ("numpy comp+shared+context+top", bare_twins),
        ],
        n,
    )
    in_process = [(solutions, dense), (leads, bare_l), (twins, bare_t)]
    session.close()
    report(f"Matching in process, store warm, top {TOP}, {n} calls each", in_process)
    _verdict(in_process)
    # The service's product runs over the non-zero impacts only (a listing claims a few KPIs): the same
    # bare computation done that way is the tighter floor.
    report("Solutions for a city against the sparse bare computation", [(solutions, sparse)])
    _verdict([(solutions, sparse)])

    if args.no_http:
        engine.dispose()
        return

    # --- through the API: HTTP on loopback, one uvicorn worker ------------------------------------------
    env = {
        "CITYMARKET_DATA_DIR": str(data_dir),
        "CITYMARKET_ENV": "test",
        "CITYMARKET_LOG_LEVEL": "WARNING",
        "CITYMARKET_SEED_ON_START": "false",
        "CITYMARKET_INDEXER_IN_PROCESS": "false",
        "OPENBLAS_NUM_THREADS": "1",
    }
    with server("app.main:create_app", env, factory=True) as api, httpx.Client(base_url=api, timeout=300) as client:
        warm = client.get(f"/api/v1/cities/{city_ids[0]}/solution-matches")  # builds the server's store
        assert warm.status_code == 200, warm.text
        http_city = _next(city_ids)
        http_sol = _next(sol_ids)

        def get(path: Callable[[], str]) -> Callable[[], None]:
            def call() -> None:
                response = client.get(path())
                assert response.status_code == 200, response.text

            return call

        over_http = [
            (
                measure(
                    "GET /cities/{id}/solution-matches",
                    get(lambda: f"/api/v1/cities/{http_city()}/solution-matches?limit={TOP}"),
                    n,
                ),
                in_process[0][1],
            ),
            (
                measure(
                    "GET /solutions/{id}/city-matches",
                    get(lambda: f"/api/v1/solutions/{http_sol()}/city-matches?limit={TOP}&scope=all"),
                    n,
                ),
                in_process[1][1],
            ),
            (
                measure(
                    "GET /cities/{id}/twin-matches",
                    get(lambda: f"/api/v1/cities/{http_city()}/twin-matches?limit={TOP}"),
                    n,
                ),
                in_process[2][1],
            ),
        ]
    report(f"Matching through the API (HTTP, loopback, one worker), top {TOP}, {n} requests each", over_http)
    report(
        "HTTP against the in-process service call",
        [
            (h, Timing(f"in process: {p.name}", p.samples_ms))
            for (h, _), (p, _) in zip(over_http, in_process, strict=True)
        ],
    )
    engine.dispose()


class _BareNumPy:
    """The three scores written out by hand in NumPy over the snapshot's arrays, for an anonymous caller
    (public cities only) and the default scopes of the bench (solutions offered in the city's country,
    leads among all public cities). Prepared once: the need matrix g x c, the normalisers, the log
    populations, per-country masks; each call then computes the whole score vector."""

    def __init__(self, snap: Snapshot) -> None:
        w = snap.weights
        self.snap = snap
        self.beta, self.half, self.min_sim = (
            w.similar_evidence_weight,
            w.similar_evidence_half,
            w.similar_city_min_similarity,
        )
        self.n_city, n_target = snap.target_gaps.shape
        self.n_sol = snap.sol_ids.shape[0]
        tg, tc = snap.target_gaps, snap.target_confidence
        reported = np.isfinite(tg)
        g = np.where(reported, np.clip(tg, 0.0, 1.0), 0.0)
        c = np.where(reported & np.isfinite(tc), np.clip(tc, 0.0, 1.0), 0.0)
        self.w_need = w.default_kpi_weight * g * c  # (C, T) w g c
        self.values = np.ascontiguousarray(snap.impacts.values, dtype=np.float64)  # (S, T) i
        self.norm = snap.impacts.normalisers(np.full(n_target, w.default_kpi_weight))  # (S,) D_s
        # u4ssc-match/3: need first; the cells with outcomes of their own are learned per city (their
        # claim-matrix value replaced by the shrinkage estimate), and D is the claims'.
        self.need_first, self.decimals = w.need_first, w.rank_decimals
        cells = snap.learned.cells
        self.cells = cells
        if w.need_first and snap.learned.normaliser is not None:
            self.norm = snap.learned.normaliser
        self.cell_base = self.values[cells.row, cells.col]
        rows, cols = snap.impacts.support_rows, snap.impacts.support_cols
        assert rows is not None, "the synthetic impact matrix is sparse"
        assert cols is not None
        self.nz_rows, self.nz_cols = rows.astype(np.intp), cols.astype(np.intp)
        self.nz_values = self.values[self.nz_rows, self.nz_cols]
        # Context: log population, codes; similarity = weighted sum of the four parts.
        ctx = snap.context
        self.ctx = ctx
        self.pop_ok = np.isfinite(ctx.population) & (ctx.population > 0)
        self.logp = np.log(np.where(self.pop_ok, ctx.population, 1.0))
        self.ln_zero = float(np.log(w.population_ratio_zero))
        self.part_w = w.context_part_weights()
        self.group_credit, self.income_steps = w.climate_group_credit, w.income_groups - 1
        self.ev = snap.evidence
        # Hard filters.
        self.offered: dict[str, Bools] = {}
        for code in set(snap.city_country):
            m = np.zeros(self.n_sol, dtype=np.bool_)
            m[snap.offered.get(code, np.zeros(0, dtype=np.intp))] = True
            self.offered[code] = m & snap.sol_published
        # Twins.
        cm = snap.cities
        self.cm = cm
        self.weak_cat = cm.weak_category.astype(np.float64)
        self.enough = cm.n_reported >= w.min_reported_kpis
        self.twin_w = w.twin_part_weights()
        self.lam = w.two_way_bonus

    def similarity(self, rows: Ints) -> F64:
        """(len(rows), C): context similarity of each city in `rows` to every city."""
        ctx, r = self.ctx, rows[:, None]
        both = self.pop_ok[r] & self.pop_ok
        pop = np.where(both, np.clip(1.0 - np.abs(self.logp - self.logp[r]) / self.ln_zero, 0.0, 1.0), 0.0)
        region = (ctx.region == ctx.region[r]) & (ctx.region[r] >= 0)
        same_group = (ctx.climate_group == ctx.climate_group[r]) & (ctx.climate_group[r] >= 0)
        climate = np.where(
            (ctx.climate == ctx.climate[r]) & (ctx.climate[r] >= 0), 1.0, np.where(same_group, self.group_credit, 0.0)
        )
        step = np.abs(ctx.income - ctx.income[r]) / self.income_steps
        income = np.where((ctx.income >= 0) & (ctx.income[r] >= 0), np.clip(1.0 - step, 0.0, 1.0), 0.0)
        wp, wr, wc, wi = self.part_w
        out: F64 = wp * pop + wr * region + wc * climate + wi * income
        return out

    def relevance(self, raw: npt.NDArray[Any], norm: F64 | float, x: npt.NDArray[Any]) -> F64:
        """The score; under /3 -inf where there is no need (a hard filter there)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(np.asarray(norm) > 0, np.clip(raw / norm, 0.0, 1.0), 0.0)
        evidence = x / (x + self.half)
        if not self.need_first:
            out: F64 = (1.0 - self.beta) * rel + self.beta * evidence
            return out
        scores: F64 = rel * ((1.0 - self.beta) + self.beta * evidence)
        return np.where(np.round(rel, self.decimals) > 0, scores, -np.inf)

    def learned(self, sim: F64) -> F64:
        """The shrinkage estimate of every outcome cell for a city with similarity `sim` to every city."""
        cells = self.cells
        u = cells.outcome_quality * sim[cells.outcome_city]
        n = cells.row.shape[0]
        w = np.bincount(cells.outcome_cell, weights=u, minlength=n)
        wr = np.bincount(cells.outcome_cell, weights=u * cells.outcome_share, minlength=n)
        total = cells.prior_strength + w
        out: F64 = np.clip((cells.prior_strength * cells.prior_mean + wr) / total, 0.0, 1.0)
        return out

    def solutions(self, c: int, *, sparse: bool) -> F64:
        """Relevance of every solution to city c; -inf where not published and offered in its country."""
        if sparse:  # the product over the non-zero impacts only (a listing claims a few KPIs)
            weighted = self.nz_values * self.w_need[c][self.nz_cols]
            raw = np.bincount(self.nz_rows, weights=weighted, minlength=self.n_sol)
        else:
            raw = self.values @ self.w_need[c]
        sim = self.similarity(np.array([c]))[0]
        if self.need_first and self.cells.row.shape[0]:
            delta = (self.learned(sim) - self.cell_base) * self.w_need[c][self.cells.col]
            raw = raw + np.bincount(self.cells.row, weights=delta, minlength=self.n_sol)
        counted = np.where(sim >= self.min_sim, sim, 0.0)
        counted[c] = 0.0  # the city's own deployments are not "similar cities"
        x = np.bincount(self.ev.solution, weights=self.ev.weight * counted[self.ev.city], minlength=self.n_sol)
        scores = self.relevance(raw, self.norm, x)
        return np.where(self.offered[self.snap.city_country[c]], scores, -np.inf)

    def leads(self, s: int) -> F64:
        """Relevance of solution s to every city; -inf where the city's data is not public."""
        cells = self.cells
        first, last = np.searchsorted(cells.row, [s, s + 1]).tolist()
        if self.need_first and last > first:  # outcomes of its own: learned per city, on its columns only
            cols = np.union1d(np.flatnonzero(self.values[s] > 0), cells.col[first:last])
            impact = np.repeat(self.values[s, cols][None, :], self.n_city, axis=0)
            mine = np.flatnonzero((cells.outcome_cell >= first) & (cells.outcome_cell < last))
            u = cells.outcome_quality[mine][:, None] * self.similarity(cells.outcome_city[mine])  # (O, C)
            onehot = cells.outcome_cell[mine][:, None] == np.arange(first, last)[None, :]  # (O, N)
            w, wr = u.T @ onehot, (u * cells.outcome_share[mine][:, None]).T @ onehot  # (C, N)
            n0, m0 = cells.prior_strength[first:last], cells.prior_mean[first:last]
            impact[:, np.searchsorted(cols, cells.col[first:last])] = np.clip((n0 * m0 + wr) / (n0 + w), 0.0, 1.0)
            raw = np.einsum("ij,ij->i", self.w_need[:, cols], impact)
        else:
            cols = np.flatnonzero(self.values[s] > 0)
            raw = self.w_need[:, cols] @ self.values[s, cols]
        lo, hi = int(self.ev.start[s]), int(self.ev.start[s + 1])
        where, weight = self.ev.city[lo:hi], self.ev.weight[lo:hi]
        sims = self.similarity(where)  # (E, C): each evidence city to every city
        counted = np.where(sims >= self.min_sim, sims, 0.0) * np.where(weight > 0, weight, 0.0)[:, None]
        counted[np.arange(hi - lo), where] = 0.0  # not for the evidence city itself
        scores = self.relevance(raw, float(self.norm[s]), counted.sum(axis=0))
        return np.where(self.snap.city_public, scores, -np.inf)

    def twins(self, q: int) -> F64:
        """Pair score of city q with every city; -inf where not a candidate (q itself, a current twin, a
        private city, too few KPIs on either side)."""
        cm = self.cm
        a_q = np.where(cm.reported[q], cm.achievement[q], 0.0)
        c_q, weak_q, strong_q = cm.confidence[q], cm.weak[q], cm.strong[q]
        raw_in = cm.help_in_terms @ np.concatenate([c_q * weak_q, -(c_q * a_q * weak_q)])
        raw_out = cm.help_out_terms @ np.concatenate([c_q * a_q * strong_q, -(c_q * strong_q)])
        n_q = int(cm.n_weak[q])
        d_in = np.clip(raw_in / n_q, 0.0, 1.0) if n_q else np.zeros(self.n_city)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_out = np.where(cm.n_weak > 0, np.clip(raw_out / cm.n_weak, 0.0, 1.0), 0.0)
            mean = 0.5 * (d_in + d_out)
            balance = np.where(mean > 0, np.minimum(np.sqrt(d_in * d_out) / mean, 1.0), 0.0)
            comp = mean * ((1.0 - self.lam) + self.lam * balance)
            inter = self.weak_cat @ self.weak_cat[q]
            union = cm.n_weak_category + cm.n_weak_category[q] - inter
            shared = np.where(union > 0, inter / union, 0.0)
        w_comp, w_shared, w_ctx = self.twin_w
        scores = w_comp * comp + w_shared * shared + w_ctx * self.similarity(np.array([q]))[0]
        ok = self.enough & self.enough[q] & self.snap.city_public
        if self.need_first:  # something to work on together
            ok &= (comp > 0) | (shared > 0)
        ok[list(self.snap.twinned.get(q, ()))] = False
        ok[q] = False
        return np.where(ok, scores, -np.inf)


def _check_bare(
    bare: _BareNumPy, session: Session, settings: Settings, city_rows: list[int], sol_rows: list[int]
) -> None:
    """The bare baselines compute the service's scores: the whole vector against the arithmetic called as
    the service calls it, and the top scores against the service's own answer (so that neither drifts)."""
    snap, w = bare.snap, bare.snap.weights

    def same(bare_scores: F64, lib_scores: F64, lib_mask: Bools, items: list[float], what: str) -> None:
        expected = np.where(lib_mask, lib_scores, -np.inf)
        assert np.allclose(bare_scores, expected, rtol=0, atol=1e-12), f"bare {what} differ from the library"
        best = np.sort(bare_scores[np.isfinite(bare_scores)])[::-1][: len(items)]
        assert np.allclose(best, items, rtol=0, atol=1e-9), f"bare {what} differ from the service's top {TOP}"

    for c in city_rows:
        city_id = int(snap.city_ids[c])
        mask, _, _ = solutions_for_city._solution_mask(snap, c, MatchScope.country, None, None, None)
        sim = service.similarity_to(snap, c)
        x = service.similar_evidence_for_city(snap, c, sim)
        overrides, _ = service.learned_overrides(snap, sim)
        lib = solution_relevance(
            snap.target_gaps[c],
            snap.target_confidence[c],
            None,
            snap.impacts,
            x,
            w,
            tie_keys=snap.sol_tie,
            overrides=overrides,
        )
        answer = service.solution_matches(session, ANONYMOUS, settings, city_id, limit=TOP)
        ranked = mask & lib.ranked
        for sparse in (False, True):
            same(bare.solutions(c, sparse=sparse), lib.scores, ranked, [i.score for i in answer.items], "solutions")
        twins = twin_partners(
            c,
            snap.cities,
            snap.context,
            w,
            already_twinned=np.isin(np.arange(bare.n_city), list(snap.twinned.get(c, ()))),
            candidates=service.readable_cities(snap, ANONYMOUS),
            tie_keys=snap.city_tie,
        )
        answer_t = service.twin_matches(session, ANONYMOUS, settings, city_id, limit=TOP)
        same(bare.twins(c), twins.scores, twins.eligible, [i.score for i in answer_t.items], "twin scores")
    for s in sol_rows:
        x, sims = service.similar_evidence_for_solution(snap, s)
        learned, _ = service.learned_for_leads(snap, s, sims)
        norm = snap.learned.normaliser
        leads = city_leads(
            np.asarray(snap.impacts.values[s], dtype=np.float64),
            snap.target_gaps,
            snap.target_confidence,
            None,
            x,
            w,
            tie_keys=snap.city_tie,
            normaliser=None if norm is None else float(norm[s]),
            learned=learned,
        )
        answer_l = service.solution_leads(
            session, ANONYMOUS, settings, int(snap.sol_ids[s]), limit=TOP, scope=LeadScope.all
        )
        public = snap.city_public & leads.ranked
        same(bare.leads(s), leads.scores, public, [i.score for i in answer_l.items], "leads")
    print(f"bare baselines checked: the service's scores on {len(city_rows)} cities and {len(sol_rows)} solutions")


def _interleaved(calls: list[tuple[str, Callable[[], object]]], iterations: int, warmup: int = 20) -> list[Timing]:
    """Time each call `iterations` times, the calls taking turns (in a rotating order)."""
    for _ in range(warmup):
        for _, call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for i in range(iterations):
        for j in range(len(calls)):
            k = (i + j) % len(calls)
            started = time.perf_counter()
            calls[k][1]()
            samples[k].append((time.perf_counter() - started) * 1000)
    return [Timing(name, times) for (name, _), times in zip(calls, samples, strict=True)]


def _verdict(rows: list[tuple[Timing, Timing]]) -> None:
    for measured, bare in rows:
        within = measured.p95 <= 25.0
        ratio = measured.p95 / bare.p95
        print(
            f"  {measured.name}: p95 {measured.p95:.2f} ms ({'within' if within else 'OVER'} 25 ms), "
            f"{ratio:.2f}x the bare NumPy p95 ({'within' if ratio <= 2 else 'over'} 2x)"
        )


if __name__ == "__main__":
    main()
