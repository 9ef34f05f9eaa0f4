"""Load the reference data (U4SSC KPIs, default benchmarks, countries, cities, published city values)
and the demo catalogue into the database.

Idempotent: every row is found by its natural key (KPI slug, city slug, vendor slug, ...) and only
changed when the seed says something different, so loading twice changes nothing. Benchmarks an admin
has replaced (`is_platform_default = False`) are left alone.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import ONETOMANY, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel, select

from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution, ContentStatus
from app.challenges.models import (
    Challenge,
    ChallengeKpi,
    ChallengeStatus,
    Comment,
    Proposal,
    ProposalStatus,
)
from app.cities.models import City, Country, DataQuality, KpiObservation
from app.core.languages import normalize_tag
from app.guidelines.models import GuidelineCategory, GuidelineKpi, ProcurementGuideline, ProcurementStage
from app.hubs.models import CatalogueStatus, Hub, HubCatalogueEntry, HubCountry
from app.kpis.models import (
    BenchmarkBasis,
    Direction,
    Kpi,
    KpiBenchmark,
    KpiDataPoint,
    KpiFramework,
    KpiSdg,
    KpiTier,
)
from app.kpis.service import slugify_code
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Maturity,
    PriceModel,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionDeployment,
    SolutionKpiImpact,
    SolutionLanguage,
    SolutionSdg,
    SolutionTranslation,
    TranslationOrigin,
)
from app.translations.models import ContentTranslation, TranslatableKind
from app.translations.schemas import FIELDS as TRANSLATED_FIELDS
from app.twinnings.models import (
    ActivityStatus,
    Twinning,
    TwinningActivity,
    TwinningActivityKpi,
    TwinningKpi,
    TwinningStatus,
)
from app.vendors.models import Vendor, VendorSize

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_DIR = DATA_DIR / "demo"

# A fixed instant for seeded decisions (catalogue entries, twinnings), so that reloading changes nothing.
SEED_INSTANT = datetime(2026, 1, 1, tzinfo=UTC)

U4SSC = {
    "code": "U4SSC",
    "name": "U4SSC Key Performance Indicators for Smart Sustainable Cities",
    "publisher": "United for Smart Sustainable Cities (ITU, UNECE and 14 other UN bodies)",
    "source_url": "https://u4ssc.itu.int/",
    "description": "About 90 KPIs in three dimensions (Economy, Environment, Society and Culture), "
    "each core or advanced. U4SSC does not publish numeric targets; the benchmarks seeded here are the "
    "platform's documented defaults.",
}

# The reference list leaves these directions blank; its notes say why, and these are our reading of them.
DIRECTION_OVERRIDES: dict[tuple[str, str], Direction] = {
    # "best value is parity (ratio 1.0)": closest to the benchmark is best.
    ("SC: SH: SI: 1C", ""): Direction.target_is_best,
    # "direction depends on method: recycled higher_is_better; landfill ... lower".
    ("EN: EN: WA: 1C", "recycled"): Direction.higher_is_better,
    ("EN: EN: WA: 1C", "landfill"): Direction.lower_is_better,
    ("EN: EN: WA: 1C", "open dump"): Direction.lower_is_better,
    ("EN: EN: WA: 1C", "burnt"): Direction.lower_is_better,
    ("EN: EN: WA: 1C", "incinerated"): Direction.undetermined,
}


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool, changed: bool) -> None:
        if created:
            self.created[kind] = self.created.get(kind, 0) + 1
        elif changed:
            self.updated[kind] = self.updated.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


M = TypeVar("M", bound=SQLModel)


def _pk(obj: Any) -> int:
    """The id of a flushed row."""
    assert obj.id is not None
    return int(obj.id)


def _apply(obj: SQLModel, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _upsert(
    session: Session,
    report: SeedReport,
    model: type[M],
    key: dict[str, Any],
    values: dict[str, Any],
    options: Iterable[Any] = (),
) -> M:
    obj = session.exec(select(model).filter_by(**key).options(*options)).first()
    if obj is None:
        obj = model(**key, **values)
        session.add(obj)
        session.flush()
        # A new row has no children yet: say so, instead of letting a lazy="raise" collection refuse to load.
        for relationship in sa.inspect(model).relationships:
            if relationship.direction is ONETOMANY:
                set_committed_value(obj, relationship.key, [])
        report.count(model.__name__, created=True, changed=True)
        return obj
    changed = _apply(obj, values)
    report.count(model.__name__, created=False, changed=changed)
    return obj


def _sync_children(current: list[Any], desired: list[Any], identity: Any) -> tuple[list[Any], bool]:
    """Replace a child collection only when its members differ (so a reload emits no writes)."""
    if sorted(map(identity, current)) == sorted(map(identity, desired)):
        return current, False
    return desired, True


_NORDIC = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "å": "a", "Å": "A"})  # NFKD keeps these


def slugify(text: str) -> str:
    text = text.translate(_NORDIC)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _csv(name: str) -> Iterator[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _date(value: Any) -> date:
    """A YAML date (PyYAML reads an unquoted ISO date as one) or an ISO string."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _yaml(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    # libyaml's parser where PyYAML was built with it (the wheels are): the same safe constructor, 5-8x faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
    return list(loaded or [])


# ---------------------------------------------------------------------------------------------- reference


def load_reference(session: Session, report: SeedReport | None = None) -> SeedReport:
    report = report or SeedReport()
    framework = _upsert(
        session,
        report,
        KpiFramework,
        {"code": U4SSC["code"]},
        {k: v for k, v in U4SSC.items() if k != "code"},
    )
    _load_kpis(session, report, framework)
    _load_benchmarks(session, report)
    _load_countries(session, report)
    _load_cities(session, report)
    _load_published_values(session, report)
    session.flush()
    return report


def _load_kpis(session: Session, report: SeedReport, framework: KpiFramework) -> None:
    for row in _csv("u4ssc_kpis.csv"):
        code = row["code"].strip()
        direction = DIRECTION_OVERRIDES.get((code, "")) or Direction(row["direction"] or "undetermined")
        provenance = {k: v for k, v in row.items() if k.endswith("_source") and v}
        provenance["list"] = "U4SSC KPI list as compiled in seeds/data/u4ssc_kpis.csv"
        kpi = _upsert(
            session,
            report,
            Kpi,
            {"slug": slugify_code(code)},
            {
                "framework_id": framework.id,
                "code": code,
                "name": row["name"].strip(),
                "dimension": row["dimension"].strip(),
                "subdimension": row["subdimension"].strip(),
                "category": row["category"].strip(),
                "tier": KpiTier(row["tier"]),
                "unit": row["unit"].strip(),
                "direction": direction,
                "official_sdg_reference": row["official_sdg_reference"].strip(),
                "provenance": provenance,
                "notes": row["notes"].strip(),
            },
            options=[selectinload(Kpi.sdgs)],  # type: ignore[arg-type]
        )
        sdgs = sorted({int(s) for s in row["sdg"].split(";") if s.strip()})
        desired = [KpiSdg(kpi_id=_pk(kpi), sdg=s) for s in sdgs]
        kpi.sdgs, changed = _sync_children(kpi.sdgs, desired, lambda x: x.sdg)
        report.count("KpiSdg", created=False, changed=changed)


def _data_point_key(kpi: Kpi, name: str) -> str:
    """`Air Pollution - PM2.5` -> `PM2.5`; `Wireless Broadband Coverage: 3G` -> `3G`; the KPI itself -> ``."""
    name = name.strip()
    for separator in (" - ", ": "):
        if separator in name:
            return name.split(separator, 1)[1].strip()
    if name.lower().startswith(kpi.name.lower()) and name.lower() != kpi.name.lower():
        return name[len(kpi.name) :].strip()  # "Open Data Sets Published" -> "Sets Published"
    return ""


def _kpis_by_code(session: Session) -> dict[str, Kpi]:
    kpis = session.exec(select(Kpi).options(selectinload(Kpi.data_points))).all()  # type: ignore[arg-type]
    return {k.code: k for k in kpis}


def _load_benchmarks(session: Session, report: SeedReport) -> None:
    kpis = _kpis_by_code(session)
    rows_by_code: dict[str, list[dict[str, str]]] = {}
    for row in _csv("kpi_benchmarks.csv"):
        rows_by_code.setdefault(row["code"].strip(), []).append(row)
    for code, kpi in kpis.items():
        rows = rows_by_code.get(code, [])
        multi = len(rows) > 1
        for position, row in enumerate(rows or [{}]):
            key = _data_point_key(kpi, row.get("name", "")) if multi else ""
            direction = (
                DIRECTION_OVERRIDES.get((code, key.lower()))
                or (Direction(row["direction"]) if row.get("direction") else None)
                or kpi.direction
            )
            dp = _upsert(
                session,
                report,
                KpiDataPoint,
                {"kpi_id": kpi.id, "key": key},
                {"position": position, "unit": row.get("unit", kpi.unit) or kpi.unit, "direction": direction},
            )
            if not row:
                continue
            _load_benchmark(session, report, dp, row)


def _load_benchmark(session: Session, report: SeedReport, dp: KpiDataPoint, row: dict[str, str]) -> None:
    raw = row["benchmark"].strip()
    value: float | None
    label = ""
    if raw.lower() == "yes":
        value, label = 1.0, "Yes"
    else:
        value = float(raw) if raw else None
    basis_type = row["basis_type"].strip() or "other"
    values = {
        "value": value,
        "value_label": label,
        "basis_type": BenchmarkBasis(basis_type),
        "basis": row["basis"].strip(),
        "source": row["source"].strip(),
        "confidence": row["confidence"].strip(),
        "is_platform_default": True,
    }
    existing = session.exec(select(KpiBenchmark).where(KpiBenchmark.data_point_id == dp.id)).first()
    if existing is not None and not existing.is_platform_default:
        return  # an admin's benchmark wins over the seed
    _upsert(session, report, KpiBenchmark, {"data_point_id": dp.id}, values)


def _load_countries(session: Session, report: SeedReport) -> None:
    for row in _yaml(DATA_DIR / "countries.yaml"):
        _upsert(
            session,
            report,
            Country,
            {"code": row["code"].upper()},
            {
                "name": row["name"],
                "region": row["region"],
                "subregion": row.get("subregion", ""),
                "income_group": row.get("income_group", ""),
            },
        )


def _load_cities(session: Session, report: SeedReport) -> None:
    # A real city that carries invented demo values is shown as a demo city: its profile is not all fact.
    with_demo_values = {block["city"] for block in _yaml(DEMO_DIR / "city_values.yaml")}
    for row in _yaml(DATA_DIR / "cities.yaml"):
        _upsert(
            session,
            report,
            City,
            {"slug": row["key"]},
            {
                "name": row["name"],
                "country_code": row["country"].upper(),
                "region": row.get("region", "") or "",
                "population": row.get("population"),
                "population_year": row.get("population_year"),
                "area_km2": row.get("area_km2"),
                "latitude": row.get("latitude"),
                "longitude": row.get("longitude"),
                "languages": list(row.get("languages", [])),
                "climate": row.get("climate", "") or "",
                "data_public": bool(row.get("data_public", False)),
                "is_demo": bool(row.get("demo", False)) or row["key"] in with_demo_values,
                "source": _source_text(row),
            },
        )


def _source_text(row: dict[str, Any]) -> str:
    parts = [str(row[k]) for k in ("source", "source_url", "note") if row.get(k)]
    return "; ".join(parts)


class DataPointLookup:
    """Finds a KPI data point from a KPI code or slug and a data point name as people write them."""

    def __init__(self, session: Session) -> None:
        self.kpis = _kpis_by_code(session)
        self.by_slug = {k.slug: k for k in self.kpis.values()}

    def kpi(self, code_or_slug: str) -> Kpi:
        kpi = self.kpis.get(code_or_slug.strip()) or self.by_slug.get(slugify_code(code_or_slug))
        if kpi is None:
            raise KeyError(f"unknown KPI {code_or_slug!r}")
        return kpi

    def data_points(self, code_or_slug: str, name: str | None) -> list[KpiDataPoint]:
        """The data points a value is for: the only one, the one named, or all named in `3G and 4G`."""
        kpi = self.kpi(code_or_slug)
        points = kpi.data_points
        if len(points) == 1:
            return list(points)
        wanted = _data_point_key(kpi, name or "").lower()
        keys = {dp.key.lower(): dp for dp in points}
        if wanted in keys:
            return [keys[wanted]]
        if " and " in wanted:
            parts = [p.strip() for p in wanted.split(" and ")]
            if all(p in keys for p in parts):
                return [keys[p] for p in parts]
        matches = [dp for dp in points if dp.key and dp.key.lower() in (name or "").lower()]
        if len(matches) == 1:
            return matches
        raise KeyError(f"KPI {kpi.code} has data points {[dp.key for dp in points]}; {name!r} names none")


def _report_year(report_name: str) -> int:
    match = re.search(r"(19|20)\d{2}", report_name)
    if not match:
        raise ValueError(f"no year in report name {report_name!r}")
    return int(match.group(0))


def _load_published_values(session: Session, report: SeedReport) -> None:
    """Values published in U4SSC verification reports and factsheets (public data)."""
    lookup = DataPointLookup(session)
    cities = {c.slug: c for c in session.exec(select(City)).all()}
    for filename in ("u4ssc_city_values.csv", "u4ssc_city_values_more.csv"):
        for row in _csv(filename):
            if not row["value"].strip():
                continue  # "Not reported": a gap, recorded by its absence
            city = cities.get(slugify(row["city"]))
            if city is None:
                raise KeyError(f"{filename}: city {row['city']!r} is not in cities.yaml")
            note = row["note"].strip()
            joint = len(lookup.data_points(row["code"], row["kpi_or_data_point"])) > 1
            for dp in lookup.data_points(row["code"], row["kpi_or_data_point"]):
                notes = [n for n in (note, "reported jointly" if joint else "") if n]
                notes.append(f"data year not stated: the year of the report ({row['report']}) is used")
                _upsert(
                    session,
                    report,
                    KpiObservation,
                    {"city_id": city.id, "data_point_id": dp.id, "year": _report_year(row["report"])},
                    {
                        "value": float(row["value"]),
                        # The reports do not say how each value was measured.
                        "data_quality": DataQuality.unknown,
                        "verified": "Verification Report" in row["report"] and "not verifiable" not in note,
                        "source": f"U4SSC {row['report']}, {row['city']}: {row['source_url']}",
                        "note": "; ".join(notes),
                    },
                )


# ---------------------------------------------------------------------------------------------- demo


def load_demo(session: Session, report: SeedReport | None = None) -> SeedReport:
    """The demo catalogue: invented vendors and listings (marked `is_demo`), and the real case studies."""
    report = report or SeedReport()
    lookup = DataPointLookup(session)
    cities = {c.slug: c for c in session.exec(select(City)).all()}
    _load_demo_values(session, report, lookup, cities)
    vendors = _load_vendors(session, report)
    solutions = _load_solutions(session, report, lookup, vendors, cities)
    _load_solution_translations(session, report, solutions)
    case_studies = _load_case_studies(session, report, lookup, cities, solutions)
    _link_verified_claims(session, report, solutions, case_studies)
    _load_guidelines(session, report, lookup)
    _load_hubs(session, report, solutions)
    _load_twinnings(session, report, lookup, cities)
    _load_challenges(session, report, lookup, cities, vendors, solutions)
    _load_content_translations(session, report, cities)
    session.flush()
    return report


def _load_demo_values(session: Session, report: SeedReport, lookup: DataPointLookup, cities: dict[str, City]) -> None:
    for block in _yaml(DEMO_DIR / "city_values.yaml"):
        city = cities[block["city"]]
        for item in block["values"]:
            for dp in lookup.data_points(item["kpi"], item.get("data_point")):
                _upsert(
                    session,
                    report,
                    KpiObservation,
                    {"city_id": city.id, "data_point_id": dp.id, "year": int(block["year"])},
                    {
                        "value": float(item["value"]),
                        "data_quality": DataQuality(item.get("data_quality", "unknown")),
                        "verified": bool(item.get("verified", False)),
                        "source": "demo value, invented for the demo catalogue",
                        "note": item.get("note", ""),
                    },
                )


def _load_vendors(session: Session, report: SeedReport) -> dict[str, Vendor]:
    vendors = {}
    for row in _yaml(DEMO_DIR / "vendors.yaml"):
        vendors[row["key"]] = _upsert(
            session,
            report,
            Vendor,
            {"slug": row["key"]},
            {
                "name": row["name"],
                "country_code": row["country"].upper(),
                "website": row.get("website", ""),
                "size": VendorSize(row["size"]),
                "description": row.get("description", "").strip(),
                "verified": bool(row.get("verified", False)),
                "is_demo": bool(row.get("demo", True)),
                "source": _source_text(row),
            },
        )
    return vendors


def _load_solutions(
    session: Session,
    report: SeedReport,
    lookup: DataPointLookup,
    vendors: dict[str, Vendor],
    cities: dict[str, City],
) -> dict[str, Solution]:
    solutions = {}
    children = [
        selectinload(getattr(Solution, name))
        for name in ("categories", "sdgs", "countries", "languages", "impacts", "deployments")
    ]
    for row in _yaml(DEMO_DIR / "solutions.yaml"):
        status = ListingStatus(row.get("status", "published"))
        solution = _upsert(
            session,
            report,
            Solution,
            {"slug": row["key"]},
            {
                "vendor_id": vendors[row["vendor"]].id,
                "title": row["title"],
                "summary": row.get("summary", "").strip(),
                "description": row.get("description", "").strip(),
                "maturity": Maturity(row["maturity"]),
                "price_model": PriceModel(row["price_model"]),
                "standards": list(row.get("standards", [])),
                "status": status,
                "is_demo": bool(row.get("demo", True)),
                "source": _source_text(row),
                "submitted_at": SEED_INSTANT if status != ListingStatus.draft else None,
                "published_at": SEED_INSTANT if status == ListingStatus.published else None,
            },
            options=children,
        )
        sid = solution.id
        assert sid is not None
        _sync(
            report,
            solution,
            "categories",
            [SolutionCategory(solution_id=sid, category=c) for c in row.get("categories", [])],
            lambda x: x.category,
        )
        _sync(
            report,
            solution,
            "sdgs",
            [SolutionSdg(solution_id=sid, sdg=int(s)) for s in row.get("sdgs", [])],
            lambda x: x.sdg,
        )
        _sync(
            report,
            solution,
            "countries",
            [SolutionCountry(solution_id=sid, country_code=c.upper()) for c in row.get("countries", [])],
            lambda x: x.country_code,
        )
        _sync(
            report,
            solution,
            "languages",
            [SolutionLanguage(solution_id=sid, language=lang) for lang in row.get("languages", [])],
            lambda x: x.language,
        )
        impacts = []
        for item in row.get("kpi_impacts", []):
            kpi = lookup.kpi(item["kpi"])
            dp_id = None
            if item.get("data_point"):
                dp_id = lookup.data_points(item["kpi"], item["data_point"])[0].id
            impacts.append(
                SolutionKpiImpact(
                    solution_id=sid,
                    kpi_id=_pk(kpi),
                    data_point_id=dp_id,
                    expected_effect=float(item["effect"]),
                    evidence_level=EvidenceLevel(item["evidence"]),
                    note=item.get("note", ""),
                )
            )
        _sync(
            report,
            solution,
            "impacts",
            impacts,
            lambda x: (x.kpi_id, x.data_point_id or 0, x.expected_effect, x.evidence_level.value, x.note),
        )
        deployments = [
            SolutionDeployment(solution_id=sid, city_id=_pk(cities[d["city"]]), year=int(d["year"]))
            for d in row.get("deployments", [])
        ]
        _sync(report, solution, "deployments", deployments, lambda x: (x.city_id, x.year))
        solutions[row["key"]] = solution
    session.flush()
    return solutions


def _load_solution_translations(session: Session, report: SeedReport, solutions: dict[str, Solution]) -> None:
    """Human translations of listings (written for the project: solution_translations.yaml)."""
    for row in _yaml(DEMO_DIR / "solution_translations.yaml"):
        solution = solutions[row["solution"]]
        _upsert(
            session,
            report,
            SolutionTranslation,
            {"solution_id": _pk(solution), "language": normalize_tag(row["language"])},
            {
                "title": row["title"],
                "summary": row.get("summary", "").strip(),
                "description": row.get("description", "").strip(),
                "origin": TranslationOrigin.human,
            },
        )
    session.flush()


def _sync(report: SeedReport, parent: SQLModel, attribute: str, desired: list[Any], identity: Any) -> None:
    current = getattr(parent, attribute)
    new, changed = _sync_children(current, desired, identity)
    if changed:
        setattr(parent, attribute, new)
    report.count(f"{type(parent).__name__}.{attribute}", created=False, changed=changed)


def _load_case_studies(
    session: Session,
    report: SeedReport,
    lookup: DataPointLookup,
    cities: dict[str, City],
    solutions: dict[str, Solution],
) -> dict[str, CaseStudy]:
    case_studies = {}
    children = [selectinload(CaseStudy.solutions), selectinload(CaseStudy.outcomes)]  # type: ignore[arg-type]
    for row in _yaml(DEMO_DIR / "case_studies.yaml"):
        case = _upsert(
            session,
            report,
            CaseStudy,
            {"slug": row["key"]},
            {
                "title": row["title"],
                "city_id": cities[row["city"]].id if row.get("city") else None,
                "summary": row.get("summary", "").strip(),
                "body": row.get("body", "").strip(),
                "year": row.get("year"),
                "language": row.get("language", "en"),
                "source": row.get("source", "") or "",
                "source_url": row.get("source_url", "") or "",
                "status": ContentStatus(row.get("status", "published")),
                "is_demo": bool(row.get("demo", False)),
            },
            options=children,
        )
        cid = case.id
        assert cid is not None
        _sync(
            report,
            case,
            "solutions",
            [CaseStudySolution(case_study_id=cid, solution_id=_pk(solutions[s])) for s in row.get("solutions", [])],
            lambda x: x.solution_id,
        )
        outcomes = []
        for item in row.get("outcomes", []):
            dp_id = lookup.data_points(item["kpi"], item["data_point"])[0].id if item.get("data_point") else None
            outcomes.append(
                CaseStudyOutcome(
                    case_study_id=cid,
                    kpi_id=_pk(lookup.kpi(item["kpi"])),
                    data_point_id=dp_id,
                    value_before=float(item["value_before"]),
                    value_after=float(item["value_after"]),
                    year_before=item.get("year_before"),
                    year_after=item.get("year_after"),
                    note=item.get("note", ""),
                )
            )
        _sync(
            report,
            case,
            "outcomes",
            outcomes,
            lambda x: (
                x.kpi_id,
                x.data_point_id or 0,
                x.value_before,
                x.value_after,
                x.year_before or 0,
                x.year_after or 0,
                x.note,
            ),
        )
        case_studies[row["key"]] = case
    session.flush()
    return case_studies


def _link_verified_claims(
    session: Session, report: SeedReport, solutions: dict[str, Solution], case_studies: dict[str, CaseStudy]
) -> None:
    """A verified impact claim points at a case study of that solution with an outcome on that KPI."""
    backing: dict[tuple[int, int], int] = {}
    for case in sorted(case_studies.values(), key=lambda c: c.slug):
        for link in case.solutions:
            for outcome in case.outcomes:
                backing.setdefault((link.solution_id, outcome.kpi_id), case.id or 0)
    for solution in solutions.values():
        for impact in solution.impacts:
            if impact.evidence_level != EvidenceLevel.verified:
                continue
            case_id = backing.get((impact.solution_id, impact.kpi_id))
            if case_id is None:
                raise ValueError(
                    f"solution {solution.slug}: verified claim on KPI id {impact.kpi_id} has no case study outcome"
                )
            if impact.case_study_id != case_id:
                impact.case_study_id = case_id
                report.count("SolutionKpiImpact.case_study", created=False, changed=True)


def _load_guidelines(session: Session, report: SeedReport, lookup: DataPointLookup) -> None:
    children = [selectinload(ProcurementGuideline.categories), selectinload(ProcurementGuideline.kpis)]  # type: ignore[arg-type]
    for row in _yaml(DEMO_DIR / "guidelines.yaml"):
        guideline = _upsert(
            session,
            report,
            ProcurementGuideline,
            {"slug": row["key"]},
            {
                "title": row["title"],
                "stage": ProcurementStage(row["stage"]),
                "summary": row.get("summary", "").strip(),
                "body": row.get("body", "").strip(),
                "language": row.get("language", "en"),
                "source": row.get("source", "") or "",
                "source_url": row.get("source_url", "") or "",
                "status": ContentStatus(row.get("status", "published")),
                "is_demo": bool(row.get("demo", True)),
            },
            options=children,
        )
        gid = guideline.id
        assert gid is not None
        _sync(
            report,
            guideline,
            "categories",
            [GuidelineCategory(guideline_id=gid, category=c) for c in row.get("categories", [])],
            lambda x: x.category,
        )
        kpi_ids = sorted({lookup.kpi(k).id or 0 for k in row.get("kpis", [])})
        _sync(
            report,
            guideline,
            "kpis",
            [GuidelineKpi(guideline_id=gid, kpi_id=k) for k in kpi_ids],
            lambda x: x.kpi_id,
        )


def _load_hubs(session: Session, report: SeedReport, solutions: dict[str, Solution]) -> None:
    for row in _yaml(DEMO_DIR / "hubs.yaml"):
        hub = _upsert(
            session,
            report,
            Hub,
            {"slug": row["key"]},
            {
                "name": row["name"],
                "description": row.get("description", "").strip(),
                "is_demo": bool(row.get("demo", True)),
            },
            options=[selectinload(Hub.countries)],  # type: ignore[arg-type]
        )
        hid = hub.id
        assert hid is not None
        _sync(
            report,
            hub,
            "countries",
            [HubCountry(hub_id=hid, country_code=c.upper()) for c in row["countries"]],
            lambda x: x.country_code,
        )
        for entry in row.get("catalogue", []):
            _upsert(
                session,
                report,
                HubCatalogueEntry,
                {"hub_id": hid, "solution_id": solutions[entry["solution"]].id},
                {
                    "status": CatalogueStatus(entry["status"]),
                    "note": entry.get("note", ""),
                    "decided_at": SEED_INSTANT,
                },
            )


def _load_twinnings(session: Session, report: SeedReport, lookup: DataPointLookup, cities: dict[str, City]) -> None:
    for row in _yaml(DEMO_DIR / "twinnings.yaml"):
        a, b = cities[row["city_a"]], cities[row["city_b"]]
        proposer = {"city_a": a.id, "city_b": b.id}.get(row.get("proposed_by", "programme"))
        status = TwinningStatus(row["status"])
        twinning = _upsert(
            session,
            report,
            Twinning,
            {"city_a_id": a.id, "city_b_id": b.id, "is_demo": True},
            {
                "focus_categories": list(row.get("focus_categories", [])),
                "rationale": row.get("rationale", "").strip(),
                "status": status,
                "proposed_by_city_id": proposer,
                "proposed_at": SEED_INSTANT,
                "decided_at": None if status == TwinningStatus.proposed else SEED_INSTANT,
                "started_at": SEED_INSTANT if status in (TwinningStatus.active, TwinningStatus.completed) else None,
            },
            options=[selectinload(Twinning.focus_kpis)],  # type: ignore[arg-type]
        )
        tid = twinning.id
        assert tid is not None
        kpi_ids = sorted({lookup.kpi(k).id or 0 for k in row.get("focus_kpis", [])})
        _sync(
            report,
            twinning,
            "focus_kpis",
            [TwinningKpi(twinning_id=tid, kpi_id=k) for k in kpi_ids],
            lambda x: x.kpi_id,
        )
        for item in row.get("plan", []):
            activity = _upsert(
                session,
                report,
                TwinningActivity,
                {"twinning_id": tid, "title": item["title"]},
                {
                    "description": item.get("description", "").strip(),
                    "start_date": _date(item["start"]),
                    "end_date": _date(item["end"]),
                    "milestone": bool(item.get("milestone", False)),
                    "status": ActivityStatus(item.get("status", "planned")),
                },
                options=[selectinload(TwinningActivity.kpis)],  # type: ignore[arg-type]
            )
            aid = activity.id
            assert aid is not None
            aimed = sorted({lookup.kpi(k).id or 0 for k in item.get("kpis", [])})
            _sync(
                report,
                activity,
                "kpis",
                [TwinningActivityKpi(activity_id=aid, kpi_id=k) for k in aimed],
                lambda x: x.kpi_id,
            )


def _load_challenges(
    session: Session,
    report: SeedReport,
    lookup: DataPointLookup,
    cities: dict[str, City],
    vendors: dict[str, Vendor],
    solutions: dict[str, Solution],
) -> None:
    for row in _yaml(DEMO_DIR / "challenges.yaml"):
        city = cities[row["city"]]
        deadline = row["deadline"] if isinstance(row["deadline"], date) else date.fromisoformat(row["deadline"])
        challenge = _upsert(
            session,
            report,
            Challenge,
            {"city_id": city.id, "title": row["title"]},
            {
                "statement": row.get("statement", "").strip(),
                "deadline": deadline,
                "status": ChallengeStatus(row.get("status", "open")),
                "is_demo": True,
            },
            options=[selectinload(Challenge.target_kpis)],  # type: ignore[arg-type]
        )
        chid = challenge.id
        assert chid is not None
        kpi_ids = sorted({lookup.kpi(k).id or 0 for k in row.get("target_kpis", [])})
        _sync(
            report,
            challenge,
            "target_kpis",
            [ChallengeKpi(challenge_id=chid, kpi_id=k) for k in kpi_ids],
            lambda x: x.kpi_id,
        )
        proposals = []
        for item in row.get("proposals", []):
            proposals.append(
                _upsert(
                    session,
                    report,
                    Proposal,
                    {"challenge_id": chid, "solution_id": solutions[item["solution"]].id},
                    {
                        "vendor_id": vendors[item["vendor"]].id,
                        "text": item.get("text", "").strip(),
                        "status": ProposalStatus(item.get("status", "submitted")),
                        "is_demo": True,
                    },
                )
            )
        winner = next((p for p in proposals if p.status is ProposalStatus.accepted), None)
        if (
            challenge.status is ChallengeStatus.awarded
            and winner is not None
            and challenge.awarded_proposal_id != winner.id
        ):
            challenge.awarded_proposal_id = winner.id  # the award's record (reason and date are the city's)
            session.add(challenge)
        for item in row.get("comments", []):
            target = item.get("on", "challenge")
            on_proposal = target != "challenge"
            proposal_id = proposals[int(target)].id if on_proposal else None
            label = (
                city.name
                if item.get("author_role") == "city"
                else (vendors[row["proposals"][int(target)]["vendor"]].name if on_proposal else "vendor")
            )
            _upsert(
                session,
                report,
                Comment,
                {
                    "challenge_id": None if on_proposal else chid,
                    "proposal_id": proposal_id,
                    "body": item["body"].strip(),
                },
                {"author_label": label, "is_demo": True},
            )


# ---------------------------------------------------------------------------------------------- entry points


def load_all(session: Session, *, demo: bool = True) -> SeedReport:
    report = load_reference(session)
    if demo:
        load_demo(session, report)
    return report


def is_seeded(session: Session) -> bool:
    return session.exec(select(KpiFramework.id).where(KpiFramework.code == U4SSC["code"])).first() is not None


def _load_content_translations(session: Session, report: SeedReport, cities: dict[str, City]) -> None:
    """Human translations of case studies, guidelines, challenges and KPI names (content_translations.yaml)."""
    challenges = {row["key"]: (cities[row["city"]].id, row["title"]) for row in _yaml(DEMO_DIR / "challenges.yaml")}

    def item_id(kind: TranslatableKind, item: str) -> int | None:
        if kind is TranslatableKind.case_study:
            return session.exec(select(CaseStudy.id).where(CaseStudy.slug == item)).first()
        if kind is TranslatableKind.guideline:
            return session.exec(select(ProcurementGuideline.id).where(ProcurementGuideline.slug == item)).first()
        if kind is TranslatableKind.challenge:
            city_id, title = challenges[item]
            return session.exec(
                select(Challenge.id).where(Challenge.city_id == city_id, Challenge.title == title)
            ).first()
        return session.exec(select(Kpi.id).where(Kpi.code == item)).first()

    for row in _yaml(DEMO_DIR / "content_translations.yaml"):
        kind = TranslatableKind(row["kind"])
        found = item_id(kind, str(row["item"]))
        if found is None:
            raise ValueError(f"content_translations.yaml: no {kind.value} {row['item']!r}")
        texts = {name: str(row[name]).strip() for name in TRANSLATED_FIELDS[kind] if row.get(name)}
        _upsert(
            session,
            report,
            ContentTranslation,
            {"kind": kind, "item_id": found, "language": normalize_tag(row["language"])},
            {"texts": texts, "origin": TranslationOrigin.human},
        )
    session.flush()
