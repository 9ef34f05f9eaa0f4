"""Search benchmark on synthetic case studies: a query mix (rare word, common word, a typo, filtered,
faceted) through the API, through the project's engine wrapper (search/), and as the RAW engine's own query
on the same index, in the same run; and the time from commit to searchable through the outbox and the
in-process indexer.

The baseline is the raw engine: for tantivy, tantivy's own query on the live index directory (its query
parser over the searchable fields; a fuzzy term query, distance 1 with transpositions, for the typo; a term
filter; `Searcher.aggregate` terms aggregations for facets), fetching the page's 20 stored documents; for
Meilisearch (CITYMARKET_SEARCH_ENGINE=meilisearch), Meilisearch's own HTTP search with the same q, filter
and facets. The goal (issue 14) is API p95 <= raw p95 + 3 ms: the table prints that difference.

    python -m bench.search [--case-studies 100000] [--iterations 200] [--data-dir DIR]

Without --data-dir it builds one: reference and demo seeds, then the synthetic generator (a few minutes
for 100,000 case studies, including the index rebuild). Pass the same --data-dir again to reuse it.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlmodel import Session, col, select

import app.models  # noqa: F401  (every table, so that relationships resolve)
from bench.common import ROOT, Timing, measure, report, server

PER_PAGE = 20


class RawTantivy:
    """tantivy's own queries on the live generation of an index (the directory CURRENT names)."""

    def __init__(self, search_dir: Path, index: str, searchable: tuple[str, ...]) -> None:
        import tantivy

        from app.search_index.indexes import DEFINITIONS
        from search.tantivy_engine import register_tokenizers

        self.tantivy = tantivy
        root = search_dir / index
        self.index = tantivy.Index.open(str(root / (root / "CURRENT").read_text("utf-8").strip()))
        register_tokenizers(self.index, DEFINITIONS[index])  # the analyzers the fields were indexed with
        self.fields = [f"s__{name}" for name in searchable]
        self.searcher = self.index.searcher()

    def search(self, q: str, *, typo: bool = False, filters: dict[str, str] | None = None,
               facets: tuple[str, ...] = ()) -> int:  # fmt: skip
        t = self.tantivy
        schema = self.index.schema
        if typo:
            text = t.Query.boolean_query([
                (t.Occur.Should, t.Query.fuzzy_term_query(schema, f, q, distance=1, transposition_cost_one=True))
                for f in self.fields
            ])  # fmt: skip
        else:
            text = self.index.parse_query(q, self.fields)
        query = text
        if filters:
            query = t.Query.boolean_query(
                [(t.Occur.Must, text)]
                + [(t.Occur.Must, t.Query.term_query(schema, f"fs__{k}", v.lower())) for k, v in filters.items()]
            )
        result = self.searcher.search(query, limit=PER_PAGE, count=True)
        for _score, address in result.hits:
            self.searcher.doc(address)
        if facets:
            self.searcher.aggregate(query, {f: {"terms": {"field": f"fs__{f}", "size": 1000}} for f in facets})
        return int(result.count or 0)


class RawMeilisearch:
    """Meilisearch's own HTTP search, on the index the API searches."""

    def __init__(self, url: str, api_key: str, uid: str) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=url, headers=headers, timeout=30)
        self.uid = uid

    def search(self, q: str, *, typo: bool = False, filters: dict[str, str] | None = None,
               facets: tuple[str, ...] = ()) -> int:  # fmt: skip
        body: dict[str, object] = {"q": q, "limit": PER_PAGE}
        if filters:
            body["filter"] = [f"{k} = '{v}'" for k, v in filters.items()]
        if facets:
            body["facets"] = list(facets)
        response = self.client.post(f"/indexes/{self.uid}/search", json=body)
        response.raise_for_status()
        return int(response.json().get("estimatedTotalHits", 0))


def build(data_dir: Path, case_studies: int) -> None:
    env = {
        **os.environ,
        "CITYMARKET_DATA_DIR": str(data_dir),
        "CITYMARKET_ENV": "test",
        "CITYMARKET_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "app.cli", "seed", "--synthetic", "--cities", "2000", "--solutions", "2000",
         "--case-studies", str(case_studies)],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip


def vocabulary(data_dir: Path) -> tuple[str, str, str, str]:
    """A common word, a rare word, a typo of a common word, and a frequent country, read from the data."""
    os.environ["CITYMARKET_DATA_DIR"] = str(data_dir)
    from app.case_studies.models import CaseStudy
    from app.cities.models import City
    from app.core.config import Settings
    from app.core.db import make_engine

    engine = make_engine(Settings(data_dir=data_dir))
    with Session(engine) as session:
        texts = session.exec(select(CaseStudy.title).order_by(col(CaseStudy.id)).limit(5000)).all()
        countries = session.exec(
            select(City.country_code).join(CaseStudy, col(CaseStudy.city_id) == City.id).limit(5000)
        ).all()
    words = collections.Counter(w for t in texts for w in set(re.findall(r"[a-z]{6,}", t.lower())))
    common = words.most_common(1)[0][0]
    rare = next(w for w, n in sorted(words.items(), key=lambda x: (x[1], x[0])) if n == 1)
    typo = common[0] + common[2] + common[1] + common[3:]  # a transposition: one typo
    country = collections.Counter(countries).most_common(1)[0][0]
    engine.dispose()
    return common, rare, typo, country


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case-studies", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="citymarket-bench-search-"))
    if not (data_dir / "citymarket.sqlite3").exists():
        build(data_dir, args.case_studies)
    common, rare, typo, country = vocabulary(data_dir)
    mix = {
        "rare word": {"q": rare, "type": "case_study"},
        "common word": {"q": common, "type": "case_study"},
        "typo": {"q": typo, "type": "case_study"},
        "filtered": {"q": common, "type": "case_study", "country": country},
        "faceted": {"q": common, "type": "case_study", "facets": "category,dimension,country,language"},
    }
    from app.core.config import SearchEngineKind, Settings
    from app.search_index.engine import make_search_engine
    from app.search_index.indexes import CASE_STUDIES, DEFINITIONS, FILTER_FIELDS
    from app.search_index.service import SearchParams, search_catalogue

    settings = Settings(data_dir=data_dir)
    direct = make_search_engine(settings)
    raw: RawTantivy | RawMeilisearch
    if settings.search_engine is SearchEngineKind.meilisearch:
        uid = f"{settings.search_index_prefix}{CASE_STUDIES}"
        raw = RawMeilisearch(settings.meilisearch_url, settings.meilisearch_api_key, uid)
    else:
        raw = RawTantivy(settings.search_dir, CASE_STUDIES, DEFINITIONS[CASE_STUDIES].searchable)
    env = {"CITYMARKET_DATA_DIR": str(data_dir), "CITYMARKET_ENV": "test", "CITYMARKET_LOG_LEVEL": "WARNING",
           "CITYMARKET_SEED_ON_START": "false"}  # fmt: skip
    rows: list[tuple[Timing, Timing]] = []
    wrapper_rows: list[tuple[Timing, Timing]] = []
    with server("app.main:create_app", env, factory=True) as api, httpx.Client(base_url=api, timeout=60) as client:
        for name, params in mix.items():
            body = client.get("/api/v1/search", params=params).json()
            print(f"{name:12} {params} -> total {body['total']}")
            facets = tuple(params.get("facets", "type,category").split(","))
            filters = {k: (v,) for k, v in params.items() if k in ("country",)} | {"type": ("case_study",)}
            search_params = SearchParams(q=params["q"], types=("case_study",), filters=filters, facets=facets)
            raw_filters = {FILTER_FIELDS[k]: v for k, v in params.items() if k == "country"}
            raw_facets = tuple(FILTER_FIELDS[f] for f in params["facets"].split(",")) if "facets" in params else ()
            raw_call = lambda p=params, f=raw_filters, fa=raw_facets, typo=(name == "typo"): raw.search(  # noqa: E731
                p["q"], typo=typo, filters=f, facets=fa
            )
            print(f"{'':12} raw {type(raw).__name__}: total {raw_call()}")
            baseline = measure(f"raw {type(raw).__name__} {name}", raw_call, args.iterations)
            rows.append((
                measure(f"API {name}", lambda p=params: client.get("/api/v1/search", params=p), args.iterations),
                baseline,
            ))  # fmt: skip
            wrapper_rows.append((
                measure(f"wrapper {name}", lambda s=search_params: search_catalogue(direct, s), args.iterations),
                baseline,
            ))  # fmt: skip
        latencies = commit_to_searchable(data_dir, client, samples=20)
    report(f"Search over {args.case_studies:,} synthetic case studies: API vs the raw engine (goal: +3 ms p95)", rows)
    report("The project's engine wrapper (search/, in process) vs the raw engine", wrapper_rows)
    ordered = sorted(latencies)
    print(f"\ncommit to searchable (outbox -> in-process indexer -> tantivy -> API), {len(ordered)} samples: "
          f"p50 {ordered[len(ordered) // 2] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms")  # fmt: skip
    direct.close()


def commit_to_searchable(data_dir: Path, client: httpx.Client, samples: int) -> list[float]:
    from app.case_studies.models import CaseStudy, ContentStatus
    from app.core.config import Settings
    from app.core.db import make_engine

    engine = make_engine(Settings(data_dir=data_dir))
    latencies = []
    for _ in range(samples):
        word = "zq" + uuid.uuid4().hex[:10]
        with Session(engine) as session:
            session.add(CaseStudy(slug=f"bench-{word}", title=f"Benchmark {word}", status=ContentStatus.published))
            session.commit()
        started = time.perf_counter()
        while client.get("/api/v1/search", params={"q": word}).json()["total"] == 0:
            time.sleep(0.005)
            if time.perf_counter() - started > 30:
                raise RuntimeError("a committed case study did not become searchable within 30 s")
        latencies.append(time.perf_counter() - started)
    engine.dispose()
    return latencies


if __name__ == "__main__":
    main()
