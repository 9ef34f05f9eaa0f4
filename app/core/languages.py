"""Language tags (BCP 47, RFC 5646) and content negotiation (RFC 9110 section 12.5.4, RFC 4647 lookup).

A small parser of our own instead of a dependency: the subset the API needs is a tag's syntax (checked,
not registry-validated) and `Accept-Language` with q-values. Tags are compared case-insensitively and
kept in their conventional case (`de`, `pt-BR`, `zh-Hans`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, Field, model_validator

from app.core.errors import InvalidInput

# language (2-3 letters, or 4-8 registered), then script/region/variant/extension subtags of 1-8 alphanumerics.
_TAG = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")
_Q = re.compile(r"^[qQ]=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")
# Macrolanguage and its usual individual language: a client asking `no` reads Bokmål (`nb`), and back.
_ALIASES = {"no": "nb", "nb": "no"}


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
    Field(min_length=2, max_length=35, examples=["de", "pt-BR"], description="A BCP 47 language tag"),
    AfterValidator(_checked_tag),
]


def parse_accept_language(header: str | None) -> list[str]:
    """The header's language ranges, most preferred first (stable for equal q), q=0 and `*` left out.

    Parts that are malformed (a bad range, a bad q) are ignored, as RFC 9110 lets a server do."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        tag = pieces[0]
        if tag == "*" or not is_valid_tag(tag):
            continue
        q = 1.0
        valid = True
        for param in pieces[1:]:
            match = _Q.match(param)
            if match is None:
                valid = False
                break
            q = float(match.group(1))
        if valid and q > 0:
            weighted.append((-q, position, normalize_tag(tag)))
    return [tag for _, _, tag in sorted(weighted)]


def _fallbacks(tag: str) -> list[str]:
    """RFC 4647 lookup: `de-CH-1996` -> `de-CH-1996`, `de-CH`, `de` (then an alias of the primary)."""
    parts = tag.split("-")
    chain = ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]
    alias = _ALIASES.get(parts[0].lower())
    return chain + ([alias] if alias else [])


def negotiate(wanted: Sequence[str], available: Iterable[str]) -> str | None:
    """The first of `available` that the client's preference list `wanted` reaches by lookup, or None."""
    by_key = {a.lower(): a for a in available}
    for tag in wanted:
        for candidate in _fallbacks(tag):
            found = by_key.get(candidate.lower())
            if found is not None:
                return found
    return None


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


def wanted_from_value(value: str | None, field: str) -> list[str]:
    """A client's `lang` value: one well-formed tag (a 422 naming `field` otherwise), or, with `,` or `;`, an
    Accept-Language list whose malformed parts are ignored."""
    if value is None:
        return []
    if "," in value or ";" in value:
        return parse_accept_language(value)
    return [language_tag(value.strip(), field)]
