"""Every change to indexed content writes an outbox row in the same transaction, whoever makes it.

This hooks the ORM session (after each flush) rather than trusting every service to remember: a write
through any service, the seed loader or an admin command cannot forget to tell the index. Bulk Core
inserts (the synthetic generator) bypass it on purpose and are followed by `citymarket reindex`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction
from sqlmodel import col

from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution
from app.cities.models import City
from app.guidelines.models import GuidelineCategory, GuidelineKpi, ProcurementGuideline
from app.hubs.models import HubCatalogueEntry
from app.moderation.models import ContentKind, ModeratedItem
from app.search_index.indexes import CASE_STUDIES, GUIDELINES, SOLUTIONS, THESAURUS, VENDORS
from app.search_index.models import SearchOutbox, ThesaurusConcept, ThesaurusTerm
from app.solutions.models import (
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionDeployment,
    SolutionKpiImpact,
    SolutionLanguage,
    SolutionSdg,
    SolutionTranslation,
)
from app.translations.models import ContentTranslation, TranslatableKind
from app.vendors.models import Vendor

# Set after a commit that wrote outbox rows: the in-process indexer wakes up at once.
outbox_written = threading.Event()

_SOLUTION_CHILDREN = (
    SolutionCategory,
    SolutionCountry,
    SolutionDeployment,
    SolutionKpiImpact,
    SolutionLanguage,
    SolutionSdg,
    SolutionTranslation,  # translated text is in the listing's document
)
# A translation's text is in its item's document (kinds without a search index have none).
_TRANSLATED_INDEX = {TranslatableKind.case_study: CASE_STUDIES, TranslatableKind.guideline: GUIDELINES}
_FLAG = "search_outbox_written"


def _changed(session: Session) -> Iterable[Any]:
    yield from session.new
    yield from session.deleted
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            yield obj


def _targets(obj: Any) -> list[tuple[str, int | None]]:
    """The (index, object id) pairs whose documents depend on this row."""
    if isinstance(obj, Solution):
        return [(SOLUTIONS, obj.id), (VENDORS, obj.vendor_id)]
    if isinstance(obj, _SOLUTION_CHILDREN):
        return [(SOLUTIONS, obj.solution_id)]
    if isinstance(obj, HubCatalogueEntry):
        return [(SOLUTIONS, obj.solution_id)]
    if isinstance(obj, Vendor):
        return [(VENDORS, obj.id)]
    if isinstance(obj, CaseStudy):
        return [(CASE_STUDIES, obj.id)]
    if isinstance(obj, CaseStudyOutcome | CaseStudySolution):
        return [(CASE_STUDIES, obj.case_study_id)]
    if isinstance(obj, ProcurementGuideline):
        return [(GUIDELINES, obj.id)]
    if isinstance(obj, GuidelineCategory | GuidelineKpi):
        return [(GUIDELINES, obj.guideline_id)]
    if isinstance(obj, ModeratedItem):  # hidden or restored: the document leaves or comes back
        if obj.kind == ContentKind.listing:
            return [(SOLUTIONS, obj.object_id)]
        if obj.kind == ContentKind.case_study:
            return [(CASE_STUDIES, obj.object_id)]
    if isinstance(obj, ContentTranslation) and obj.kind in _TRANSLATED_INDEX:
        return [(_TRANSLATED_INDEX[obj.kind], obj.item_id)]
    if isinstance(obj, ThesaurusTerm):  # the synonyms of every index change: the indexer pushes them
        return [(THESAURUS, obj.concept_id)]
    if isinstance(obj, ThesaurusConcept):
        return [(THESAURUS, obj.id)]
    return []


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _flush: UOWTransaction) -> None:
    targets: set[tuple[str, int]] = set()
    cascades: list[sa.Insert] = []
    for obj in _changed(session):
        targets.update((index, oid) for index, oid in _targets(obj) if oid is not None)
        # Documents that embed this row's text elsewhere: a vendor's name in its listings, a city's in
        # its case studies. One INSERT ... SELECT each, whatever the number of dependents.
        if isinstance(obj, Vendor) and obj.id is not None and obj not in session.new:
            listings = sa.select(col(Solution.id)).where(col(Solution.vendor_id) == obj.id)
            cascades.append(_fan_out(SOLUTIONS, listings))
        if isinstance(obj, ModeratedItem) and obj.kind == ContentKind.listing:
            # A vendor is searchable through its public listings; a case study shows its listings' vendors.
            vendor = sa.select(col(Solution.vendor_id)).where(col(Solution.id) == obj.object_id)
            using = sa.select(col(CaseStudySolution.case_study_id)).where(
                col(CaseStudySolution.solution_id) == obj.object_id
            )
            cascades += [_fan_out(VENDORS, vendor), _fan_out(CASE_STUDIES, using)]
        if isinstance(obj, City) and obj.id is not None and obj not in session.new:
            cases = sa.select(col(CaseStudy.id)).where(col(CaseStudy.city_id) == obj.id)
            cascades.append(_fan_out(CASE_STUDIES, cases))
    if not targets and not cascades:
        return
    connection = session.connection()
    if targets:
        connection.execute(
            sa.insert(SearchOutbox),
            [{"index_name": index, "object_id": oid} for index, oid in sorted(targets)],
        )
    for statement in cascades:
        connection.execute(statement)
    session.info[_FLAG] = True


def _fan_out(index: str, ids: sa.Select[Any]) -> sa.Insert:
    source = ids.add_columns(sa.literal(index)).subquery()
    columns = list(source.c)
    return sa.insert(SearchOutbox).from_select(["object_id", "index_name"], sa.select(columns[0], columns[1]))


@event.listens_for(Session, "after_commit")
def _wake_indexer(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        outbox_written.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_FLAG, None)
