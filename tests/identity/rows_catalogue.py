"""Permission-matrix rows for the catalogue (vendors, solutions, case studies, guidelines, hubs, benchmarks)
write endpoints.

Builders create what a call needs directly in the cell's database (a listing of vendor a or b in the status
the action applies to, a case study, a hub decision), so that a refusal can only come from the permission
check, and pass the If-Match an update needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from app.case_studies.models import CaseStudy, ContentStatus
from app.core.concurrency import etag
from app.guidelines.models import ProcurementGuideline, ProcurementStage
from app.hubs.models import CatalogueStatus, HubCatalogueEntry
from app.identity.models import Role
from app.kpis.models import Kpi, KpiBenchmark, KpiDataPoint
from app.kpis.service import benchmark_version
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Maturity,
    PriceModel,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionKpiImpact,
)
from tests.identity.matrix import Call, Row, Scenario, Which, ab

ADMIN = frozenset({Role.admin})
VENDOR_OR_ADMIN = frozenset({Role.vendor_member, Role.admin})
CURATOR_OR_ADMIN = frozenset({Role.hub_curator, Role.admin})
OK = frozenset({200, 201, 204})


def _listing(scenario: Scenario, which: Which, status: ListingStatus) -> Solution:
    """A complete listing of vendor a (own) or b (other) in `status`."""
    with scenario.session() as session:
        kpi = session.exec(select(Kpi).where(Kpi.slug == "EC-I-WS-3C")).one()
        solution = Solution(
            vendor_id=scenario.world.vendor[ab(which)],
            slug=f"matrix-{which}-{status.value}",
            title=f"Matrix listing {which} {status.value}",
            summary="A listing the permission matrix acts on.",
            maturity=Maturity.pilot,
            price_model=PriceModel.licence,
            status=status,
            submitted_at=datetime(2026, 1, 1, tzinfo=UTC) if status != ListingStatus.draft else None,
        )
        session.add(solution)
        session.flush()
        sid = solution.id or 0
        session.add_all(
            [
                SolutionCategory(solution_id=sid, category="Water and Sanitation"),
                SolutionCountry(solution_id=sid, country_code="NO"),
                SolutionKpiImpact(
                    solution_id=sid, kpi_id=kpi.id or 0, expected_effect=0.2, evidence_level=EvidenceLevel.claimed
                ),
            ]
        )
    return solution


def _solution_call(status: ListingStatus, suffix: str = "", body: Any = None) -> Any:
    def build(scenario: Scenario, which: Which) -> Call:
        solution = _listing(scenario, which, status)
        sid = solution.id or 0
        return Call(f"/api/v1/solutions/{sid}{suffix}", body, {"If-Match": etag("solution", sid, 1)})

    return build


def _new_solution(scenario: Scenario, which: Which) -> Call:
    return Call(
        "/api/v1/solutions",
        {
            "vendor_id": scenario.world.vendor[ab(which)],
            "title": f"Matrix new listing {which}",
            "maturity": "pilot",
            "price_model": "free",
            "categories": ["Air Quality"],
            "kpi_impacts": [{"kpi": "EN-EN-AQ-1C", "data_point": "PM10", "expected_effect": 0.1}],
        },
    )


def _new_vendor(scenario: Scenario, which: Which) -> Call:
    return Call("/api/v1/vendors", {"name": f"Matrix Vendor {which}", "country_code": "NO", "size": "small"})


def _vendor_call(suffix: str, body: Any) -> Any:
    def build(scenario: Scenario, which: Which) -> Call:
        vid = scenario.world.vendor[ab(which)]
        return Call(f"/api/v1/vendors/{vid}{suffix}", body, {"If-Match": etag("vendor", vid, 1)})

    return build


def _case_study(scenario: Scenario, which: Which, status: ContentStatus) -> int:
    with scenario.session() as session:
        case = CaseStudy(slug=f"matrix-case-{which}", title=f"Matrix case {which}", status=status)
        session.add(case)
        session.flush()
        return case.id or 0


def _case_study_call(status: ContentStatus, suffix: str = "", body: Any = None) -> Any:
    def build(scenario: Scenario, which: Which) -> Call:
        cid = _case_study(scenario, which, status)
        return Call(f"/api/v1/case-studies/{cid}{suffix}", body, {"If-Match": etag("case_study", cid, 1)})

    return build


def _guideline(scenario: Scenario, which: Which, status: ContentStatus) -> int:
    with scenario.session() as session:
        guideline = ProcurementGuideline(
            slug=f"matrix-guideline-{which}",
            title=f"Matrix guideline {which}",
            stage=ProcurementStage.tender_design,
            status=status,
        )
        session.add(guideline)
        session.flush()
        return guideline.id or 0


def _guideline_call(status: ContentStatus, suffix: str = "", body: Any = None) -> Any:
    def build(scenario: Scenario, which: Which) -> Call:
        gid = _guideline(scenario, which, status)
        return Call(
            f"/api/v1/procurement-guidelines/{gid}{suffix}", body, {"If-Match": etag("procurement_guideline", gid, 1)}
        )

    return build


def _published_listing(scenario: Scenario) -> Solution:
    """A published listing of vendor a (the same for both cells of a row: "own" and "other" are hubs)."""
    with scenario.session() as session:
        existing = session.exec(select(Solution).where(Solution.slug == "matrix-own-published")).first()
    return existing or _listing(scenario, "own", ListingStatus.published)


def _catalogue_put(scenario: Scenario, which: Which) -> Call:
    solution = _published_listing(scenario)
    return Call(
        f"/api/v1/hubs/{scenario.world.hub[ab(which)]}/catalogue/{solution.id}",
        {"status": "featured", "note": "by the matrix"},
    )


def _catalogue_delete(scenario: Scenario, which: Which) -> Call:
    solution = _published_listing(scenario)
    hub_id = scenario.world.hub[ab(which)]
    with scenario.session() as session:
        entry = HubCatalogueEntry(
            hub_id=hub_id,
            solution_id=solution.id or 0,
            status=CatalogueStatus.approved,
            decided_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        session.add(entry)
        session.flush()
        entry_id = entry.id or 0
    return Call(
        f"/api/v1/hubs/{hub_id}/catalogue/{solution.id}", None, {"If-Match": etag("hub_catalogue_entry", entry_id, 1)}
    )


def _benchmark_put(scenario: Scenario, which: Which) -> Call:
    # KPI-wide reference data: "own" and "other" are two data points.
    slug, key = ("EN-EN-AQ-1C", "PM10") if which == "own" else ("EC-I-WS-3C", "_")
    with Session(scenario.engine) as session:
        kpi = session.exec(select(Kpi).where(Kpi.slug == slug)).one()
        point = session.exec(
            select(KpiDataPoint).where(KpiDataPoint.kpi_id == kpi.id, KpiDataPoint.key == ("" if key == "_" else key))
        ).one()
        benchmark = session.exec(select(KpiBenchmark).where(KpiBenchmark.data_point_id == point.id)).one()
        tag = etag("kpi_benchmark", point.id or 0, benchmark_version(benchmark))
    body = {"value": 12.5, "basis_type": "WHO", "basis": "Matrix basis", "source": "matrix"}
    return Call(f"/api/v1/kpis/{slug}/data-points/{key}/benchmark", body, {"If-Match": tag})


S = ListingStatus
NOTE = {"note": "from the matrix"}

CATALOGUE_ROWS: list[Row] = [
    # vendors
    Row("POST", "/api/v1/vendors", _new_vendor, own=ADMIN, other=ADMIN),
    Row("PATCH", "/api/v1/vendors/{vendor_id}", _vendor_call("", {"description": "new"}), own=VENDOR_OR_ADMIN),
    Row("POST", "/api/v1/vendors/{vendor_id}/verify", _vendor_call("/verify", {"verified": True}), own=ADMIN),
    # solutions and their lifecycle
    Row("POST", "/api/v1/solutions", _new_solution, own=VENDOR_OR_ADMIN),
    Row(
        "PATCH", "/api/v1/solutions/{solution_id}", _solution_call(S.draft, body={"summary": "x"}), own=VENDOR_OR_ADMIN
    ),
    Row("DELETE", "/api/v1/solutions/{solution_id}", _solution_call(S.draft), own=VENDOR_OR_ADMIN),
    Row("POST", "/api/v1/solutions/{solution_id}/submit", _solution_call(S.draft, "/submit"), own=VENDOR_OR_ADMIN),
    Row(
        "POST",
        "/api/v1/solutions/{solution_id}/withdraw",
        _solution_call(S.submitted, "/withdraw"),
        own=VENDOR_OR_ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/solutions/{solution_id}/request-changes",
        _solution_call(S.submitted, "/request-changes", NOTE),
        own=ADMIN,
    ),
    Row("POST", "/api/v1/solutions/{solution_id}/publish", _solution_call(S.submitted, "/publish"), own=ADMIN),
    Row("POST", "/api/v1/solutions/{solution_id}/reject", _solution_call(S.submitted, "/reject", NOTE), own=ADMIN),
    Row(
        "POST", "/api/v1/solutions/{solution_id}/archive", _solution_call(S.published, "/archive"), own=VENDOR_OR_ADMIN
    ),
    Row("POST", "/api/v1/solutions/{solution_id}/restore", _solution_call(S.archived, "/restore"), own=VENDOR_OR_ADMIN),
    Row(
        "PUT",
        "/api/v1/solutions/{solution_id}/translations/{lang}",
        _solution_call(S.published, "/translations/de", {"title": "Matrix-Eintrag"}),
        own=VENDOR_OR_ADMIN,
    ),
    # case studies and procurement guidelines: the platform's editors
    Row(
        "POST",
        "/api/v1/case-studies",
        lambda s, w: Call("/api/v1/case-studies", {"title": f"Matrix case {w}"}),
        own=ADMIN,
        other=ADMIN,
    ),
    Row(
        "PATCH",
        "/api/v1/case-studies/{case_study_id}",
        _case_study_call(ContentStatus.published, "", {"summary": "x"}),
        own=ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/case-studies/{case_study_id}/publish",
        _case_study_call(ContentStatus.draft, "/publish"),
        own=ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/case-studies/{case_study_id}/archive",
        _case_study_call(ContentStatus.published, "/archive"),
        own=ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/procurement-guidelines",
        lambda s, w: Call("/api/v1/procurement-guidelines", {"title": f"Matrix guideline {w}", "stage": "evaluation"}),
        own=ADMIN,
        other=ADMIN,
    ),
    Row(
        "PATCH",
        "/api/v1/procurement-guidelines/{guideline_id}",
        _guideline_call(ContentStatus.published, "", {"summary": "x"}),
        own=ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/procurement-guidelines/{guideline_id}/publish",
        _guideline_call(ContentStatus.draft, "/publish"),
        own=ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/procurement-guidelines/{guideline_id}/archive",
        _guideline_call(ContentStatus.published, "/archive"),
        own=ADMIN,
    ),
    # hub curation: "own" is the caller's hub
    Row("PUT", "/api/v1/hubs/{hub_id}/catalogue/{solution_id}", _catalogue_put, own=CURATOR_OR_ADMIN),
    Row("DELETE", "/api/v1/hubs/{hub_id}/catalogue/{solution_id}", _catalogue_delete, own=CURATOR_OR_ADMIN),
    # the platform's benchmarks
    Row("PUT", "/api/v1/kpis/{slug}/data-points/{key}/benchmark", _benchmark_put, own=ADMIN, other=ADMIN),
]

__all__ = ["CATALOGUE_ROWS", "Call", "Role", "Row", "Scenario", "Which", "ab"]
