"""What a translation write takes (one input model per kind, made by one helper from the kind's fields) and
what it answers (one output for every kind)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.core.text import InputModel
from app.solutions.models import TranslationOrigin
from app.translations.models import ContentTranslation, TranslatableKind

# Each kind's translatable fields with their longest text (the original's limits), the first one required.
FIELDS: dict[TranslatableKind, dict[str, int]] = {
    TranslatableKind.case_study: {"title": 300, "summary": 5000, "body": 100000},
    TranslatableKind.guideline: {"title": 300, "summary": 5000, "body": 100000},
    TranslatableKind.challenge: {"title": 300, "statement": 20000},
    TranslatableKind.kpi: {"name": 200, "notes": 5000},
}
_ORIGIN_DESCRIPTION = "human (by a person) or machine; a machine translation never replaces a human one (409)"


class TranslationInBase(InputModel):
    model_config = ConfigDict(extra="forbid")

    origin: TranslationOrigin = Field(default=TranslationOrigin.human, description=_ORIGIN_DESCRIPTION)

    def texts(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in type(self).model_fields if name != "origin"}


def _input_model(kind: TranslatableKind, name: str) -> type[TranslationInBase]:
    fields: dict[str, Any] = {}
    for position, (field, longest) in enumerate(FIELDS[kind].items()):
        if position == 0:
            fields[field] = (str, Field(min_length=1, max_length=longest))
        else:
            fields[field] = (str, Field(default="", max_length=longest))
    model = create_model(name, __base__=TranslationInBase, **fields)
    model.__doc__ = (
        f"A {kind.value.replace('_', ' ')}'s text in one language; an empty field falls back to the original's."
    )
    model.multiline_fields = frozenset(list(FIELDS[kind])[1:])
    return model


CaseStudyTranslationIn = _input_model(TranslatableKind.case_study, "CaseStudyTranslationIn")
GuidelineTranslationIn = _input_model(TranslatableKind.guideline, "GuidelineTranslationIn")
ChallengeTranslationIn = _input_model(TranslatableKind.challenge, "ChallengeTranslationIn")
KpiTranslationIn = _input_model(TranslatableKind.kpi, "KpiTranslationIn")


class TranslatedTextOut(BaseModel):
    field: str
    text: str


class TranslationOut(BaseModel):
    """One item's translation into one language."""

    kind: TranslatableKind
    item_id: int = Field(description="The case study's, guideline's, challenge's or KPI's id")
    language: str
    texts: list[TranslatedTextOut] = Field(description="The translated fields (an absent one is the original's)")
    origin: TranslationOrigin
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: ContentTranslation) -> TranslationOut:
        return cls(
            kind=row.kind,
            item_id=row.item_id,
            language=row.language,
            texts=[TranslatedTextOut(field=k, text=v) for k, v in row.texts.items() if v],
            origin=row.origin,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
