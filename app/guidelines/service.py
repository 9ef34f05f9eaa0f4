"""Procurement guidelines: reading (only published ones are public) and writing (the platform's editors)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.audit.service import diff, record
from app.auth import permissions
from app.auth.permissions import can_read_unpublished_content
from app.auth.principal import Principal
from app.case_studies.lifecycle import EditorialAction, editorial_transition
from app.case_studies.models import ContentStatus
from app.core.concurrency import ExpectedVersion, claim_version, lock_for_write
from app.core.errors import InvalidInput, NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.core.slugs import free_slug
from app.guidelines.models import GuidelineCategory, GuidelineKpi, ProcurementGuideline
from app.guidelines.schemas import (
    GuidelineBaseOut,
    GuidelineContentIn,
    GuidelineCreateIn,
    GuidelineFilters,
    GuidelineOut,
    GuidelineUpdateIn,
)
from app.kpis.service import framework_categories, kpi_refs, kpis_by_reference
from app.solutions import service as solutions
from app.translations.models import TranslatableKind
from app.translations.service import Target


def _options() -> list[object]:
    return [
        selectinload(ProcurementGuideline.categories),  # type: ignore[arg-type]
        selectinload(ProcurementGuideline.kpis),  # type: ignore[arg-type]
    ]


def list_guidelines(
    session: Session, principal: Principal, filters: GuidelineFilters, page: PageRequest
) -> PageResult[ProcurementGuideline]:
    statement = select(ProcurementGuideline).options(*_options())  # type: ignore[arg-type]
    if not can_read_unpublished_content(principal):
        statement = statement.where(col(ProcurementGuideline.status) == ContentStatus.published)
    if filters.stage:
        statement = statement.where(col(ProcurementGuideline.stage) == filters.stage)
    if filters.category:
        in_category = select(GuidelineCategory.guideline_id).where(
            sa.func.lower(GuidelineCategory.category) == filters.category.lower()
        )
        statement = statement.where(col(ProcurementGuideline.id).in_(in_category))
    if filters.kpi:
        on_kpi = select(GuidelineKpi.guideline_id).where(col(GuidelineKpi.kpi_id) == solutions.kpi_id_for(filters.kpi))
        statement = statement.where(col(ProcurementGuideline.id).in_(on_kpi))
    if filters.language:
        statement = statement.where(sa.func.lower(ProcurementGuideline.language) == filters.language.lower())
    keys = [SortKey(ProcurementGuideline.title), SortKey(ProcurementGuideline.id)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_guideline(session: Session, principal: Principal, guideline_id: int) -> ProcurementGuideline:
    statement = select(ProcurementGuideline).where(ProcurementGuideline.id == guideline_id).options(*_options())  # type: ignore[arg-type]
    guideline = session.exec(statement).first()
    if guideline is None or (
        guideline.status != ContentStatus.published and not can_read_unpublished_content(principal)
    ):
        raise NotFound(
            f"No procurement guideline with id {guideline_id}. GET /api/v1/procurement-guidelines lists them."
        )
    return guideline


def to_out(session: Session, guidelines: Sequence[ProcurementGuideline]) -> list[GuidelineOut]:
    """Guidelines with their KPIs (one statement for the KPIs of all of them)."""
    refs = kpi_refs(session, {k.kpi_id for g in guidelines for k in g.kpis})
    return [
        GuidelineOut(
            **GuidelineBaseOut.from_model(g).model_dump(),
            kpis=sorted((refs[k.kpi_id] for k in g.kpis), key=lambda r: r.code),
        )
        for g in guidelines
    ]


# ================================================================================================== writes
# The platform's editors (admins) write guidelines: create as draft, edit, publish, archive (the editorial
# lifecycle of app.case_studies.service).

KIND = "procurement_guideline"
SCALAR_FIELDS = ("title", "stage", "summary", "body", "language", "source", "source_url")


def _snapshot(session: Session, guideline: ProcurementGuideline) -> dict[str, Any]:
    refs = kpi_refs(session, {k.kpi_id for k in guideline.kpis})
    return {
        **{name: getattr(guideline, name) for name in SCALAR_FIELDS},
        "categories": sorted(c.category for c in guideline.categories),
        "kpis": sorted(refs[k.kpi_id].slug for k in guideline.kpis),
    }


def _load_for_write(session: Session, principal: Principal, guideline_id: int) -> ProcurementGuideline:
    guideline = session.exec(
        select(ProcurementGuideline)
        .where(ProcurementGuideline.id == guideline_id)
        .options(*_options())  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    ).first()
    if guideline is None or (
        guideline.status != ContentStatus.published and not can_read_unpublished_content(principal)
    ):
        raise NotFound(
            f"No procurement guideline with id {guideline_id}. GET /api/v1/procurement-guidelines lists them."
        )
    permissions.require(
        permissions.can_edit_editorial_content(principal),
        "Only the platform's editors (admins) may change procurement guidelines.",
    )
    return guideline


def _validate(session: Session, body: GuidelineContentIn) -> tuple[dict[str, Any], list[str] | None, list[int] | None]:
    errors: list[dict[str, str]] = []
    scalars = {name: getattr(body, name) for name in SCALAR_FIELDS if name in body.model_fields_set}
    if "title" in scalars and not scalars["title"].strip():
        errors.append({"field": "body.title", "message": "must not be blank", "type": "blank"})
    if "language" in scalars:
        scalars["language"] = scalars["language"].lower()
    categories: list[str] | None = None
    if body.categories is not None:
        known = framework_categories(session)
        categories = []
        for n, name in enumerate(body.categories):
            canonical = known.get(name.strip().lower())
            if canonical is None:
                errors.append(
                    {
                        "field": f"body.categories.{n}",
                        "message": f"{name!r} is not a category of the KPI framework; one of: "
                        + ", ".join(sorted(known.values())),
                        "type": "unknown_category",
                    }
                )
            elif canonical not in categories:
                categories.append(canonical)
    kpi_ids: list[int] | None = None
    if body.kpis is not None:
        kpis = kpis_by_reference(session, body.kpis)
        kpi_ids = []
        for n, ref in enumerate(body.kpis):
            kpi = kpis.get(ref)
            if kpi is None:
                errors.append(
                    {"field": f"body.kpis.{n}", "message": f"no KPI with slug or code {ref!r}", "type": "unknown_kpi"}
                )
            elif (kpi.id or 0) not in kpi_ids:
                kpi_ids.append(kpi.id or 0)
    if errors:
        raise InvalidInput(
            "Invalid procurement guideline: "
            + ", ".join(e["field"] for e in errors)
            + ". "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
            errors=errors,
        )
    return scalars, categories, kpi_ids


def _apply(
    guideline: ProcurementGuideline, scalars: dict[str, Any], categories: list[str] | None, kpi_ids: list[int] | None
) -> None:
    gid = guideline.id or 0
    for name, value in scalars.items():
        setattr(guideline, name, value)
    if categories is not None:
        present = {c.category: c for c in guideline.categories}
        for name, row in present.items():
            if name not in categories:
                guideline.categories.remove(row)
        for name in categories:
            if name not in present:
                guideline.categories.append(GuidelineCategory(guideline_id=gid, category=name))
    if kpi_ids is not None:
        linked = {k.kpi_id: k for k in guideline.kpis}
        for kpi_id, link in linked.items():
            if kpi_id not in kpi_ids:
                guideline.kpis.remove(link)
        for kpi_id in kpi_ids:
            if kpi_id not in linked:
                guideline.kpis.append(GuidelineKpi(guideline_id=gid, kpi_id=kpi_id))


def _out_after_write(session: Session, principal: Principal, guideline_id: int) -> GuidelineOut:
    session.flush()
    session.expire_all()
    return to_out(session, [get_guideline(session, principal, guideline_id)])[0]


def create_guideline(session: Session, principal: Principal, body: GuidelineCreateIn) -> GuidelineOut:
    lock_for_write(session)
    permissions.require(
        permissions.can_edit_editorial_content(principal),
        "Only the platform's editors (admins) may write procurement guidelines.",
    )
    scalars, categories, kpi_ids = _validate(session, body)
    guideline = ProcurementGuideline(
        slug=free_slug(session, col(ProcurementGuideline.slug), body.title, max_length=160, fallback="guideline"),
        title=body.title,
        stage=body.stage,
        status=ContentStatus.draft,
        categories=[],
        kpis=[],
    )
    session.add(guideline)
    session.flush()
    _apply(guideline, scalars, categories or [], kpi_ids or [])
    session.flush()
    record(session, principal, "procurement_guideline.create", KIND, guideline.id or 0, _snapshot(session, guideline))
    return _out_after_write(session, principal, guideline.id or 0)


def update_guideline(
    session: Session, principal: Principal, guideline_id: int, body: GuidelineUpdateIn, expected: ExpectedVersion
) -> GuidelineOut:
    lock_for_write(session)
    guideline = _load_for_write(session, principal, guideline_id)
    guideline.version = claim_version(session, ProcurementGuideline, guideline_id, expected())
    scalars, categories, kpi_ids = _validate(session, body)
    before = _snapshot(session, guideline)
    _apply(guideline, scalars, categories, kpi_ids)
    changes = diff(before, _snapshot(session, guideline))
    if changes:
        record(session, principal, "procurement_guideline.update", KIND, guideline_id, changes)
    return _out_after_write(session, principal, guideline_id)


def transition_guideline(
    session: Session, principal: Principal, guideline_id: int, action: EditorialAction, expected: ExpectedVersion
) -> GuidelineOut:
    lock_for_write(session)
    guideline = _load_for_write(session, principal, guideline_id)
    guideline.version = claim_version(session, ProcurementGuideline, guideline_id, expected())
    target = editorial_transition("procurement guideline", guideline.status, action)
    changes = {"status": {"from": guideline.status.value, "to": target.value}}
    guideline.status = target
    record(session, principal, f"procurement_guideline.{action.value}", KIND, guideline_id, changes)
    return _out_after_write(session, principal, guideline_id)


def translation_target(session: Session, principal: Principal, guideline_id: int) -> Target:
    """The guideline as something `principal` may translate: the editors (as for every edit)."""
    guideline = _load_for_write(session, principal, guideline_id)
    return Target(
        TranslatableKind.guideline,
        guideline_id,
        guideline.language,
        KIND,
        f"PATCH /api/v1/procurement-guidelines/{guideline_id}",
    )
