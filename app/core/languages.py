"""Language tags (BCP 47, RFC 5646): their syntax (checked, not registry-validated), their conventional case
(`de`, `pt-BR`, `zh-Hans`), and what a translatable answer says about its languages. Negotiation (Accept-Language,
?lang=, Content-Language) is app/core/negotiation.py.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, Field, model_validator

from app.core.errors import InvalidInput

# language (2-3 letters, or 4-8 registered), then script/region/variant/extension subtags of 1-8 alphanumerics.
_TAG = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")


def is_valid_tag(value: str) -> bool:
    return len(value) <= 35 and bool(_TAG.match(value))


def _checked_tag(value: str) -> str:
    if not is_valid_tag(value):
        raise ValueError(f"{value!r} is not a BCP 47 language tag (such as de, nb or pt-BR)")
    return normalize_tag(value)


def normalize_tag(value: str) -> str:
    """`DE-at` -> `de-AT`, `zh-hans` -> `zh-Hans`: language lower, script title, region upper."""
    parts = value.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            out.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


# An input field holding a language tag: checked (a 422 naming the field) and normalised (`PT-br` -> `pt-BR`).
LanguageTag = Annotated[
    str,
    # The pattern is stated in the schema (clients and schemathesis see what is accepted) but checked by
    # _checked_tag, whose message says what a language tag is rather than repeating the regular expression.
    Field(
        min_length=2,
        max_length=35,
        examples=["de", "pt-BR"],
        description="A BCP 47 language tag",
        json_schema_extra={"pattern": _TAG.pattern},
    ),
    AfterValidator(_checked_tag),
]


# ------------------------------------------------------------------------------------ localized answers
# What every translatable answer says about its languages (docs/architecture.md, "Languages"). Solutions
# have their own typed `FieldLanguagesOut`; the other kinds (case studies, guidelines, challenges, KPIs) say
# it as a list of (field, language), one shape for all of them.


class FieldLanguageOut(BaseModel):
    """The language one text field of the answer is in."""

    field: str
    language: str


class LocalizedOut(BaseModel):
    """Mixed into an answer whose `translated_fields` may be translated (app/translations).

    `language` is the answer's language (the title's); `original_language` the one the item was written in;
    `field_languages` the language of each translatable field (a field the translation leaves empty is the
    original's). Untranslated, all three say the original language."""

    translated_fields: ClassVar[tuple[str, ...]] = ()

    language: str = Field(default="en", description="The language of the answer (its Content-Language): the title's")
    original_language: str = Field(default="", description="BCP 47 tag of the language the item was written in")
    field_languages: list[FieldLanguageOut] = Field(
        default_factory=list, description="The language of each translatable text field"
    )

    @model_validator(mode="after")
    def _original_by_default(self) -> LocalizedOut:
        if not self.original_language:
            self.original_language = self.language
        if not self.field_languages:
            self.field_languages = [
                FieldLanguageOut(field=name, language=self.original_language) for name in self.translated_fields
            ]
        return self


def language_tag(value: str, field: str) -> str:
    """A BCP 47 tag, normalised; a malformed one is a 422 naming `field`."""
    if not is_valid_tag(value):
        raise InvalidInput(
            f"{value!r} is not a BCP 47 language tag (such as de, nb or pt-BR).",
            errors=[{"field": field, "message": "not a BCP 47 language tag", "type": "value_error.language_tag"}],
        )
    return normalize_tag(value)
