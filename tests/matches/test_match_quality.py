"""bench.match_quality's profiles on the test database: u4ssc-match/3 ranks a relevant listing first on every
generated profile whose scope holds one (the issue's bar), where /2 does not."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.config import MatchingSettings
from app.matches.schemas import MatchScope
from app.matches.store import build_snapshot, data_version
from bench.match_quality import SIZES, evaluate, load_framework, make_profiles


def test_generated_profiles_get_a_relevant_listing_first(engine: Engine) -> None:
    with Session(engine) as session:
        profiles = make_profiles(session, load_framework(session), seed=5, per_category=1)
    assert len(profiles) >= 30
    assert {p.size for p in profiles} == set(SIZES)
    assert len({p.country for p in profiles}) >= 5
    assert all(1 <= len(p.weak) <= 2 for p in profiles)
    results = {}
    for version in ("u4ssc-match/2", "u4ssc-match/3"):
        matching = MatchingSettings(method_version=version)
        with Session(engine) as session:
            snap = build_snapshot(session, matching.weights(), matching, data_version(session))
        results[version] = evaluate(snap, matching, profiles, MatchScope.all)
    p1, n = results["u4ssc-match/3"]["precision@1"]
    assert n >= 30
    assert p1 == 1.0
    assert results["u4ssc-match/3"]["nDCG@5"][0] == 1.0
    assert results["u4ssc-match/2"]["precision@1"][0] < 1.0  # the evidence term ranked what is not needed
