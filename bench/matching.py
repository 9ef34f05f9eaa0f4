"""Matching benchmark: solutions for a city, leads for a solution and twin partners, on the synthetic seed
(10,000 cities, 100,000 solutions, 91 KPIs), in process (the service call, store warm) and through the API
(HTTP on loopback, one uvicorn worker), each against a bare NumPy computation of the same scores
(matrix-vector product + argpartition) measured in the same run.

    python -m bench.matching [--data-dir DIR] [--iterations 300] [--cities 10000] [--solutions 100000]

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

import httpx
import numpy as np
from sqlmodel import Session

from app.auth.principal import ANONYMOUS
from app.core.config import Environment, Settings
from app.core.db import make_engine
from app.matches import service
from app.matches.schemas import LeadScope
from app.matches.store import data_version, store_for
from bench.common import Timing, measure, report, seeded_data_dir, server

TOP = 20


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
    beta = snap.weights.similar_evidence_weight
    values = np.ascontiguousarray(snap.impacts.values, dtype=np.float64)
    norm = snap.impacts.normalisers(np.ones(n_kpi))
    need = np.where(np.isfinite(snap.gaps), snap.gaps, 0.0) * snap.confidence  # (C, K) g x c
    published = snap.sol_published
    help_in, help_out = snap.cities.help_in_terms, snap.cities.help_out_terms

    def top(scores: np.ndarray) -> np.ndarray:
        part = np.argpartition(-scores, TOP)[:TOP]
        return part[np.argsort(-scores[part])]

    next_city_row = _next([int(r) for r in city_rows])
    next_sol_row = _next([int(r) for r in sol_rows])

    def bare_solutions() -> None:
        c = next_city_row()
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = (1 - beta) * np.where(norm > 0, (values @ need[c]) / norm, 0.0)
        top(np.where(published, scores, -np.inf))

    rows_nz = snap.impacts.support_rows
    cols_nz = snap.impacts.support_cols
    values_nz = values[rows_nz, cols_nz] if rows_nz is not None and cols_nz is not None else None

    def bare_solutions_sparse() -> None:
        c = next_city_row()
        assert rows_nz is not None
        assert cols_nz is not None
        assert values_nz is not None
        raw = np.bincount(rows_nz, weights=values_nz * need[c][cols_nz], minlength=n_sol)
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = (1 - beta) * np.where(norm > 0, raw / norm, 0.0)
        top(np.where(published, scores, -np.inf))

    def bare_leads() -> None:
        s = next_sol_row()
        scores = (1 - beta) * (need @ values[s]) / max(norm[s], 1.0)
        top(np.where(snap.city_public, scores, -np.inf))

    def bare_twins() -> None:
        c = next_city_row()
        q = np.concatenate([snap.confidence[c], snap.confidence[c]])
        scores = help_in @ q + help_out @ q
        top(scores)

    # --- in process: the service calls (visibility statement, snapshot, reasons) ---------------------------
    session = Session(engine)
    next_city = _next(city_ids)
    next_sol = _next(sol_ids)
    n = args.iterations
    in_process = [
        (
            measure(
                "service solutions for a city",
                lambda: service.solution_matches(session, ANONYMOUS, settings, next_city(), limit=TOP),
                n,
            ),
            measure("numpy V @ (g*c) + argpartition", bare_solutions, n),
        ),
        (
            measure(
                "service leads for a solution",
                lambda: service.solution_leads(
                    session, ANONYMOUS, settings, next_sol(), limit=TOP, scope=LeadScope.all
                ),
                n,
            ),
            measure("numpy (G*C) @ i_s + argpartition", bare_leads, n),
        ),
        (
            measure(
                "service twin partners",
                lambda: service.twin_matches(session, ANONYMOUS, settings, next_city(), limit=TOP),
                n,
            ),
            measure("numpy 2 mat-vec (C x 2K) + argpartition", bare_twins, n),
        ),
    ]
    session.close()
    report(f"Matching in process, store warm, top {TOP}, {n} calls each", in_process)
    _verdict(in_process)
    # The service's product runs over the non-zero impacts only (a listing claims a few KPIs): the same
    # bare computation done that way is the tighter floor.
    sparse = measure("numpy sparse (bincount) + argpartition", bare_solutions_sparse, n)
    report("Solutions for a city against the sparse bare computation", [(in_process[0][0], sparse)])
    _verdict([(in_process[0][0], sparse)])

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
