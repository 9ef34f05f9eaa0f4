"""A deterministic mix of writes to searchable content, made through the ORM like any service's writes,
and the check that an index holds exactly what the database says it should."""

from __future__ import annotations

import random

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.case_studies.models import CaseStudy, ContentStatus
from app.search_index.documents import BUILDERS, document_id, searchable_ids
from app.search_index.indexes import DEFINITIONS
from app.solutions.models import ListingStatus, Maturity, PriceModel, Solution, SolutionCategory
from app.vendors.models import Vendor
from search import SearchEngine, SearchQuery

WORDS = (
    "leak",
    "sensor",
    "filter",
    "cube",
    "tram",
    "mobility",
    "canopy",
    "meter",
    "dashboard",
    "retrofit",
    "heat",
    "pump",
    "sewer",
    "drone",
)


def mixed_writes(engine: Engine, operations: int, seed: int = 7, per_transaction: int = 10) -> int:
    """Creates, edits, publishes, unpublishes and deletes solutions and case studies; returns the count."""
    rng = random.Random(seed)
    done = 0
    with Session(engine) as session:
        vendor_ids = list(session.exec(select(Vendor.id)).all())
        city_id = session.exec(select(CaseStudy.city_id).where(col(CaseStudy.city_id).is_not(None))).first()
    mine_solutions: list[int] = []
    mine_cases: list[int] = []
    while done < operations:
        with Session(engine) as session:
            for _ in range(min(per_transaction, operations - done)):
                action = rng.choice(["create", "create", "edit", "publish", "unpublish", "delete"])
                kind = rng.choice(["solution", "case"])
                pool = mine_solutions if kind == "solution" else mine_cases
                if action == "create" or not pool:
                    title = " ".join(rng.choices(WORDS, k=3)) + f" {done}"
                    if kind == "solution":
                        s = Solution(
                            vendor_id=rng.choice(vendor_ids), slug=f"outage-sol-{seed}-{done}", title=title,
                            summary=title, maturity=Maturity.pilot, price_model=PriceModel.subscription,
                            status=rng.choice([ListingStatus.published, ListingStatus.draft]),
                        )  # fmt: skip
                        session.add(s)
                        session.flush()
                        session.add(SolutionCategory(solution_id=s.id, category="Water and Sanitation"))
                        mine_solutions.append(s.id or 0)
                    else:
                        c = CaseStudy(
                            slug=f"outage-case-{seed}-{done}", title=title, city_id=city_id, summary=title,
                            status=rng.choice([ContentStatus.published, ContentStatus.draft]),
                        )  # fmt: skip
                        session.add(c)
                        session.flush()
                        mine_cases.append(c.id or 0)
                else:
                    target_id = rng.choice(pool)
                    model = Solution if kind == "solution" else CaseStudy
                    obj = session.get(model, target_id)
                    assert obj is not None
                    if action == "edit":
                        obj.title = " ".join(rng.choices(WORDS, k=4)) + f" edited {done}"
                    elif action == "publish":
                        obj.status = ListingStatus.published if kind == "solution" else ContentStatus.published
                    elif action == "unpublish":
                        obj.status = ListingStatus.archived if kind == "solution" else ContentStatus.archived
                    else:
                        session.delete(obj)
                        pool.remove(target_id)
                done += 1
            session.commit()
    return done


def index_matches_database(db: Engine, search: SearchEngine) -> dict[str, object]:
    """Differences between each index and the database (empty when they agree exactly, content included)."""
    problems: dict[str, object] = {}
    with Session(db) as session:
        for index in DEFINITIONS:
            ids = sorted(int(i) for i in session.execute(searchable_ids(index)).scalars().all())
            expected = {d["id"]: d for d in BUILDERS[index](session, ids)}
            indexed = search.ids(index)
            missing, stale = set(expected) - indexed, indexed - set(expected)
            if missing or stale:
                problems[index] = {"missing": sorted(missing)[:10], "stale": sorted(stale)[:10]}
                continue
            # Same content too: every document's title as the database has it now.
            found: dict[str, str] = {}
            page = 1
            while True:
                result = search.search(index, SearchQuery(q="", page=page, per_page=1000))
                found.update({hit.id: hit.document.get("title", "") for hit in result.hits})
                if page * 1000 >= result.total:
                    break
                page += 1
            wrong = [i for i, doc in expected.items() if found.get(i) != doc["title"]]
            if wrong:
                problems[index] = {"outdated": wrong[:10]}
    assert all(document_id(i, 1) for i in DEFINITIONS)
    return problems
