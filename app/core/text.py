"""Text that is safe to store and show: every input schema derives from `InputModel`, which refuses control
characters in every string it holds (nested lists and dicts included), on REST and GraphQL alike (GraphQL
inputs are validated by the same schemas, app/graphql/mutations.py).

Refused: C0 and C1 controls and DEL (a NUL breaks PostgreSQL and C tools, ESC sequences a terminal),
lone surrogates (not encodable), the bidirectional controls (U+202E turns "gpj.exe" round, "Trojan
Source"), and U+2028/U+2029. A field named in `multiline_fields` also takes newlines (LF, CR) and tabs.
Joiners (U+200C, U+200D) stay allowed: scripts and emoji need them.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_SINGLE_LINE_REFUSED = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029{_BIDI}]")
_MULTILINE_REFUSED = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_BIDI}]")


# The same rules as JSON Schema patterns (ECMA-262 \u escapes, which Python's re reads too), so that the
# OpenAPI document says which strings are refused instead of a fuzzer or a client finding out by a 422.
# Lone surrogates stay out of the patterns: Rust-based validators (schemathesis's) cannot compile a surrogate
# range and then ignore the whole pattern; UTF-8 cannot carry one anyway, only a JSON \u escape can.
_BIDI_ESCAPED = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
SINGLE_LINE_PATTERN = rf"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029{_BIDI_ESCAPED}]*$"
MULTILINE_PATTERN = rf"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f{_BIDI_ESCAPED}]*$"
_NESTED = ("items", "anyOf", "oneOf", "allOf", "prefixItems")


def _add_pattern(schema: Any, pattern: str) -> None:
    """Give every plain string in a property's schema (in lists and unions too) the refusing pattern."""
    if isinstance(schema, list):
        for item in schema:
            _add_pattern(item, pattern)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not ({"pattern", "format", "enum", "const"} & schema.keys()):
        schema["pattern"] = pattern
    for key in _NESTED:
        _add_pattern(schema.get(key), pattern)
    if isinstance(schema.get("additionalProperties"), dict):
        _add_pattern(schema["additionalProperties"], pattern)


def document_single_line(schema: Any) -> None:
    """Say in a query or path parameter's schema that it refuses control characters (app.core.deps)."""
    _add_pattern(schema, SINGLE_LINE_PATTERN)


def _document_refusals(schema: dict[str, Any], model: type[Any]) -> None:
    multiline: frozenset[str] = getattr(model, "multiline_fields", frozenset())
    # Properties are named by alias, `multiline_fields` by field name.
    names = {field.alias or name: name for name, field in getattr(model, "model_fields", {}).items()}
    for key, prop in schema.get("properties", {}).items():
        _add_pattern(prop, MULTILINE_PATTERN if names.get(key, key) in multiline else SINGLE_LINE_PATTERN)


def control_character_problem(text: str, *, multiline: bool) -> str | None:
    """Why `text` is refused (the first offending character and where), or None."""
    found = (_MULTILINE_REFUSED if multiline else _SINGLE_LINE_REFUSED).search(text)
    if found is None:
        return None
    allowed = "; only newlines and tabs are allowed here" if multiline else ""
    return f"contains the control character U+{ord(found.group()):04X} at position {found.start()}{allowed}"


def _check(value: Any, multiline: bool) -> None:
    if isinstance(value, str):
        if reason := control_character_problem(value, multiline=multiline):
            raise ValueError(reason)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check(item, multiline)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, False)
            _check(item, multiline)


class InputModel(BaseModel):
    """The base of every input schema (REST bodies, GraphQL inputs)."""

    # Fields whose text may span lines (descriptions, bodies, notes): newlines and tabs allowed there.
    multiline_fields: ClassVar[frozenset[str]] = frozenset()
    model_config = ConfigDict(json_schema_extra=_document_refusals)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        _check(value, multiline=info.field_name in cls.multiline_fields)
        return value
