"""Search documents built from the database: the only place that knows both our models and the indexes.

Each builder takes object ids and returns the documents of those that are *searchable now* (published, and
not hidden by moderation: `app.moderation.visibility.not_hidden`); ids it does not return must leave the
index. One query per kind of object, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.case_studies.models import CaseStudy, ContentStatus
from app.cities.models import City
from app.guidelines.models import ProcurementGuideline
from app.hubs.models import CatalogueStatus, Hub, HubCatalogueEntry
from app.kpis.models import Kpi, KpiSdg
from app.moderation.visibility import public_case_study, public_listing
from app.search_index.indexes import CASE_STUDIES, GUIDELINES, SOLUTIONS, VENDORS, language_texts
from app.solutions.models import Solution, SolutionTranslation
from app.translations.models import TranslatableKind
from app.translations.service import translations_of
from app.vendors.models import Vendor

Document = dict[str, Any]

DOC_TYPES = {SOLUTIONS: "solution", CASE_STUDIES: "case_study", VENDORS: "vendor", GUIDELINES: "guideline"}


def _eager(model: Any, attribute: str, then: tuple[Any, str] | None = None) -> Any:
    """selectinload by attribute name (SQLModel's relationship annotations are not typed for it)."""
    option = selectinload(getattr(model, attribute))
    return option.selectinload(getattr(then[0], then[1])) if then else option


def document_id(index: str, object_id: int) -> str:
    return f"{DOC_TYPES[index]}-{object_id}"


def object_id_of(doc_id: str) -> int:
    return int(doc_id.rsplit("-", 1)[1])


class _KpiFacts:
    """KPI slugs, names, dimensions and SDGs by id, loaded once per batch."""

    def __init__(self, session: Session, kpi_ids: set[int]) -> None:
        kpis = session.exec(select(Kpi).where(col(Kpi.id).in_(kpi_ids))).all() if kpi_ids else []
        self.by_id = {k.id: k for k in kpis}
        self.sdgs: dict[int, list[int]] = {}
        if kpi_ids:
            for row in session.exec(select(KpiSdg).where(col(KpiSdg.kpi_id).in_(kpi_ids))).all():
                self.sdgs.setdefault(row.kpi_id, []).append(row.sdg)

    def fields(self, kpi_ids: Sequence[int]) -> dict[str, list[Any]]:
        kpis = [self.by_id[i] for i in kpi_ids if i in self.by_id]
        return {
            "kpis": sorted({k.slug for k in kpis}),
            "kpi_names": sorted({k.name for k in kpis}),
            "dimensions": sorted({k.dimension for k in kpis}),
            "kpi_categories": sorted({k.category for k in kpis}),
            "sdgs": sorted({s for k in kpis for s in self.sdgs.get(k.id or 0, [])}),
        }


def _solution_translations(session: Session, ids: Sequence[int]) -> dict[int, dict[str, dict[str, str]]]:
    """Each listing's translations as {language: {title, summary, description}} (one statement)."""
    found: dict[int, dict[str, dict[str, str]]] = {}
    if ids:
        statement = select(SolutionTranslation).where(col(SolutionTranslation.solution_id).in_(ids))
        for t in session.exec(statement).all():
            texts = {"title": t.title, "summary": t.summary, "description": t.description}
            found.setdefault(t.solution_id, {})[t.language] = {k: v for k, v in texts.items() if v}
    return found


def _content_translations(
    session: Session, kind: TranslatableKind, ids: Sequence[int]
) -> dict[int, dict[str, dict[str, str]]]:
    """Each item's translations as {language: {field: text}} (one statement)."""
    return {
        item_id: {row.language: {k: v for k, v in row.texts.items() if v} for row in rows}
        for item_id, rows in translations_of(session, kind, ids).items()
    }


def solution_documents(session: Session, ids: Sequence[int]) -> list[Document]:
    solutions = session.exec(
        select(Solution)
        .where(col(Solution.id).in_(ids), public_listing())
        .options(
            _eager(Solution, "vendor"),
            _eager(Solution, "categories"),
            _eager(Solution, "sdgs"),
            _eager(Solution, "countries"),
            _eager(Solution, "languages"),
            _eager(Solution, "impacts"),
        )
    ).all()
    kpis = _KpiFacts(session, {i.kpi_id for s in solutions for i in s.impacts})
    hubs = _hubs_listing(session, [s.id or 0 for s in solutions])
    translations = _solution_translations(session, [s.id or 0 for s in solutions])
    docs = []
    for s in solutions:
        facts = kpis.fields([i.kpi_id for i in s.impacts])
        texts = {"title": s.title, "summary": s.summary, "description": s.description}
        translated = translations.get(s.id or 0, {})
        docs.append(
            {
                "id": document_id(SOLUTIONS, s.id or 0),
                "type": "solution",
                **texts,
                # Shown to an asker of that language (docs/architecture.md); searched by language field, after
                # the original's fields, each with its language's analyzer (docs/design.md).
                "translations": translated,
                **language_texts(translated),
                "original_language": s.original_language,
                "vendor_name": s.vendor.name,
                "vendors": [s.vendor.slug],
                "categories": sorted(c.category for c in s.categories),
                "countries": sorted(c.country_code for c in s.countries),
                "cities": [],
                "languages": sorted(lang.language for lang in s.languages),
                "hubs": hubs.get(s.id or 0, []),
                "kpis": facts["kpis"],
                "kpi_names": facts["kpi_names"],
                "dimensions": facts["dimensions"],
                "sdgs": sorted({x.sdg for x in s.sdgs} | set(facts["sdgs"])),
                "year": (s.published_at or s.created_at).year,
            }
        )
    return docs


def _hubs_listing(session: Session, solution_ids: Sequence[int]) -> dict[int, list[str]]:
    rows = session.exec(
        select(HubCatalogueEntry.solution_id, Hub.slug)
        .join(Hub, col(Hub.id) == HubCatalogueEntry.hub_id)
        .where(
            col(HubCatalogueEntry.solution_id).in_(solution_ids),
            col(HubCatalogueEntry.status).in_([CatalogueStatus.approved, CatalogueStatus.featured]),
        )
    ).all()
    hubs: dict[int, list[str]] = {}
    for solution_id, slug in rows:
        hubs.setdefault(solution_id, []).append(slug)
    return {k: sorted(v) for k, v in hubs.items()}


def case_study_documents(session: Session, ids: Sequence[int]) -> list[Document]:
    cases = session.exec(
        select(CaseStudy)
        .where(col(CaseStudy.id).in_(ids), public_case_study())
        .options(
            _eager(CaseStudy, "city", (City, "country")),
            _eager(CaseStudy, "outcomes"),
            _eager(CaseStudy, "solutions"),
        )
    ).all()
    solution_ids = {link.solution_id for c in cases for link in c.solutions}
    linked = (
        {
            s.id: s
            for s in session.exec(
                select(Solution)
                .where(col(Solution.id).in_(solution_ids), public_listing())
                .options(_eager(Solution, "vendor"), _eager(Solution, "categories"), _eager(Solution, "impacts"))
            ).all()
        }
        if solution_ids
        else {}
    )
    kpi_ids = {o.kpi_id for c in cases for o in c.outcomes} | {i.kpi_id for s in linked.values() for i in s.impacts}
    kpis = _KpiFacts(session, kpi_ids)
    translations = _content_translations(session, TranslatableKind.case_study, [c.id or 0 for c in cases])
    docs = []
    for c in cases:
        solutions = [linked[link.solution_id] for link in c.solutions if link.solution_id in linked]
        published = solutions  # `linked` holds the public ones only
        facts = kpis.fields([o.kpi_id for o in c.outcomes] + [i.kpi_id for s in published for i in s.impacts])
        categories = {cat.category for s in published for cat in s.categories} | set(facts["kpi_categories"])
        texts = {"title": c.title, "summary": c.summary, "body": c.body}
        translated = translations.get(c.id or 0, {})
        docs.append(
            {
                "id": document_id(CASE_STUDIES, c.id or 0),
                "type": "case_study",
                **texts,
                "translations": translated,
                **language_texts(translated),
                "original_language": c.language,
                "city_name": c.city.name if c.city else "",
                "cities": [c.city.slug] if c.city else [],
                "countries": [c.city.country_code] if c.city else [],
                "categories": sorted(categories),
                "vendors": sorted({s.vendor.slug for s in published}),
                "hubs": [],
                "languages": [c.language],
                "kpis": facts["kpis"],
                "kpi_names": facts["kpi_names"],
                "dimensions": facts["dimensions"],
                "sdgs": facts["sdgs"],
                "year": c.year or c.created_at.year,
            }
        )
    return docs


def vendor_documents(session: Session, ids: Sequence[int]) -> list[Document]:
    """A vendor is searchable once it has a published listing (a bare profile is not a catalogue entry)."""
    vendors = session.exec(select(Vendor).where(col(Vendor.id).in_(ids))).all()
    listings = session.exec(
        select(Solution)
        .where(col(Solution.vendor_id).in_(ids), public_listing())
        .options(_eager(Solution, "categories"), _eager(Solution, "impacts"), _eager(Solution, "languages"))
    ).all()
    by_vendor: dict[int, list[Solution]] = {}
    for s in listings:
        by_vendor.setdefault(s.vendor_id, []).append(s)
    kpis = _KpiFacts(session, {i.kpi_id for s in listings for i in s.impacts})
    docs = []
    for v in vendors:
        own = by_vendor.get(v.id or 0, [])
        if not own:
            continue
        facts = kpis.fields([i.kpi_id for s in own for i in s.impacts])
        docs.append(
            {
                "id": document_id(VENDORS, v.id or 0),
                "type": "vendor",
                "title": v.name,
                "description": v.description,
                "vendors": [v.slug],
                "countries": [v.country_code],
                "cities": [],
                "hubs": [],
                "categories": sorted({c.category for s in own for c in s.categories}),
                "languages": sorted({lang.language for s in own for lang in s.languages}),
                "kpis": facts["kpis"],
                "kpi_names": facts["kpi_names"],
                "dimensions": facts["dimensions"],
                "sdgs": facts["sdgs"],
                "year": v.created_at.year,
            }
        )
    return docs


def guideline_documents(session: Session, ids: Sequence[int]) -> list[Document]:
    guidelines = session.exec(
        select(ProcurementGuideline)
        .where(col(ProcurementGuideline.id).in_(ids), ProcurementGuideline.status == ContentStatus.published)
        .options(_eager(ProcurementGuideline, "categories"), _eager(ProcurementGuideline, "kpis"))
    ).all()
    kpis = _KpiFacts(session, {k.kpi_id for g in guidelines for k in g.kpis})
    translations = _content_translations(session, TranslatableKind.guideline, [g.id or 0 for g in guidelines])
    docs = []
    for g in guidelines:
        facts = kpis.fields([k.kpi_id for k in g.kpis])
        texts = {"title": g.title, "summary": g.summary, "body": g.body}
        translated = translations.get(g.id or 0, {})
        docs.append(
            {
                "id": document_id(GUIDELINES, g.id or 0),
                "type": "guideline",
                **texts,
                "translations": translated,
                **language_texts(translated),
                "original_language": g.language,
                "stage": g.stage.value,
                "categories": sorted({c.category for c in g.categories}),
                "countries": [],
                "cities": [],
                "vendors": [],
                "hubs": [],
                "languages": [g.language],
                "kpis": facts["kpis"],
                "kpi_names": facts["kpi_names"],
                "dimensions": facts["dimensions"],
                "sdgs": facts["sdgs"],
                "year": g.created_at.year,
            }
        )
    return docs


BUILDERS: dict[str, Callable[[Session, Sequence[int]], list[Document]]] = {
    SOLUTIONS: solution_documents,
    CASE_STUDIES: case_study_documents,
    VENDORS: vendor_documents,
    GUIDELINES: guideline_documents,
}


def searchable_ids(index: str) -> Select[Any]:
    """The ids of the objects an index should hold now: the same rule as the builders, in SQL."""
    if index == SOLUTIONS:
        return select(Solution.id).where(public_listing())
    if index == CASE_STUDIES:
        return select(CaseStudy.id).where(public_case_study())
    if index == GUIDELINES:
        return select(ProcurementGuideline.id).where(ProcurementGuideline.status == ContentStatus.published)
    if index == VENDORS:
        listed = select(Solution.vendor_id).where(public_listing())
        return select(Vendor.id).where(col(Vendor.id).in_(listed))
    raise KeyError(index)
