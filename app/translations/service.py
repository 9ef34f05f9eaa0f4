"""One translation mechanism for case studies, procurement guidelines, challenges and KPIs
(docs/architecture.md, "Languages").

Writes: `put_translation` takes a `Target`, which the item's own domain made after its own checks (the caller
may see the item, and has the right to edit it: editors for editorial content, the challenge's city officials,
admins for KPIs), so the permission rule stays where it lives. A human translation is never replaced by a
machine one (409); a translation into the original language is a 409 (edit the item).

Reads: `localize` puts each answer in the caller's language where a translation reaches it (RFC 4647 lookup
along the wanted languages, else the original), field by field, one statement for a page of answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit.service import diff, record
from app.auth.principal import Principal
from app.core.errors import Conflict
from app.core.languages import FieldLanguageOut, LocalizedOut, language_tag
from app.core.models import utcnow
from app.core.negotiation import negotiate
from app.solutions.models import TranslationOrigin
from app.translations.models import ContentTranslation, TranslatableKind
from app.translations.schemas import FIELDS, TranslationInBase, TranslationOut


@dataclass(frozen=True)
class Target:
    """An item the caller may translate, as its domain vouches for it."""

    kind: TranslatableKind
    item_id: int
    original_language: str
    audit_type: str  # the item's object type in the audit trail ("case_study", "procurement_guideline", ...)
    edit_hint: str  # where the original is edited, for the 409 on a translation into it


def translations_of(
    session: Session, kind: TranslatableKind, item_ids: Iterable[int]
) -> dict[int, list[ContentTranslation]]:
    ids = set(item_ids)
    found: dict[int, list[ContentTranslation]] = defaultdict(list)
    if ids:
        statement = select(ContentTranslation).where(
            col(ContentTranslation.kind) == kind, col(ContentTranslation.item_id).in_(ids)
        )
        for row in session.exec(statement).all():
            found[row.item_id].append(row)
    return found


def list_translations(session: Session, kind: TranslatableKind, item_id: int) -> list[TranslationOut]:
    """The item's translations by language (the caller's right to see the item is checked by its domain)."""
    rows = translations_of(session, kind, [item_id]).get(item_id, [])
    return [TranslationOut.from_model(r) for r in sorted(rows, key=lambda r: r.language)]


_T = TypeVar("_T", bound=LocalizedOut)


def localize(
    session: Session,
    kind: TranslatableKind,
    outs: Sequence[_T],
    wanted: Sequence[str],
    item_ids: Sequence[int] | None = None,
) -> list[_T]:
    """Each answer in the caller's language where a translation reaches it; `item_ids` when the answers do not
    carry their id as `id` (KPIs are answered by slug)."""
    if not wanted or not outs:
        return list(outs)
    ids = list(item_ids) if item_ids is not None else [getattr(o, "id") for o in outs]  # noqa: B009
    by_item = translations_of(session, kind, ids)
    localized: list[_T] = []
    for item_id, out in zip(ids, outs, strict=True):
        available = {t.language: t for t in by_item.get(item_id, [])}
        chosen = negotiate(wanted, [out.original_language, *available])
        translation = available.get(chosen) if chosen is not None else None
        if translation is None:
            localized.append(out)
            continue
        texts: dict[str, str] = {}
        languages: list[FieldLanguageOut] = []
        for name in out.translated_fields:
            text = translation.texts.get(name) or ""
            if text:
                texts[name] = text
            languages.append(
                FieldLanguageOut(field=name, language=translation.language if text else out.original_language)
            )
        localized.append(
            out.model_copy(update={**texts, "language": translation.language, "field_languages": languages})
        )
    return localized


def put_translation(
    session: Session, principal: Principal, target: Target, language: str, body: TranslationInBase
) -> tuple[TranslationOut, bool]:
    """Create or replace the item's translation into `language`; True when it was created."""
    tag = language_tag(language, "path.lang")
    if tag.lower() == target.original_language.lower():
        raise Conflict(
            f"The {target.kind.value.replace('_', ' ')} is written in {target.original_language}: edit it "
            f"({target.edit_hint}), not as a translation."
        )
    row = session.exec(
        select(ContentTranslation).where(
            col(ContentTranslation.kind) == target.kind,
            col(ContentTranslation.item_id) == target.item_id,
            sa.func.lower(ContentTranslation.language) == tag.lower(),
        )
    ).first()
    if row is not None and row.origin == TranslationOrigin.human and body.origin == TranslationOrigin.machine:
        raise Conflict(
            f"The {tag} translation of {target.kind.value.replace('_', ' ')} {target.item_id} was written by a "
            "person; a machine translation never replaces it. Send origin=human to replace it yourself."
        )
    texts = {name: text for name, text in body.texts().items() if name in FIELDS[target.kind]}
    after = {**texts, "origin": body.origin.value}
    created = row is None
    before: dict[str, str] = {}
    if row is None:
        row = ContentTranslation(
            kind=target.kind, item_id=target.item_id, language=tag, texts=texts, origin=body.origin
        )
        session.add(row)
    else:
        before = {**row.texts, "origin": row.origin.value}
        row.texts = texts
        row.origin = body.origin
        row.version += 1
        row.updated_at = utcnow()
    changes = diff(before, after)
    if changes:
        record(
            session,
            principal,
            f"{target.audit_type}.translation.put",
            target.audit_type,
            target.item_id,
            {"language": tag, **changes},
        )
    session.flush()
    return TranslationOut.from_model(row), created


_R = TypeVar("_R")


def localize_rows(
    session: Session,
    kind: TranslatableKind,
    rows: Sequence[_R],
    to_out: Callable[[_R], _T],
    wanted: Sequence[str],
    item_ids: Sequence[int] | None = None,
) -> list[tuple[_R, _T]]:
    """Each row with its answer in the caller's language (GraphQL types take both: the row for their
    DataLoader keys, the answer for the fields)."""
    outs = localize(session, kind, [to_out(r) for r in rows], wanted, item_ids)
    return list(zip(rows, outs, strict=True))
