"""Content negotiation by language, for every face (docs/architecture.md, "Languages"): Accept-Language with
q-values (RFC 9110 section 12.5.4), the RFC 4647 lookup of an available language, a client's `lang` value
(REST `?lang=`, GraphQL `lang:`), and the headers a REST answer carries (Content-Language, Vary). No web
framework here: the search indexer and the CLI use it too; REST's dependency and answers are app/core/localized.py.

A small parser of our own instead of a dependency: the subset the API needs is `Accept-Language` with q-values;
tags are compared case-insensitively (app/core/languages.py keeps their syntax and case)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from app.core.languages import is_valid_tag, language_tag, normalize_tag

LANG_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
_Q = re.compile(r"^[qQ]=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")
# Macrolanguage and its usual individual language: a client asking `no` reads Bokmål (`nb`), and back.
_ALIASES = {"no": "nb", "nb": "no"}


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


def wanted_from_value(value: str | None, field: str) -> list[str]:
    """A client's `lang` value: one well-formed tag (a 422 naming `field` otherwise), or, with `,` or `;`, an
    Accept-Language list whose malformed parts are ignored."""
    if value is None:
        return []
    if "," in value or ";" in value:
        return parse_accept_language(value)
    return [language_tag(value.strip(), field)]


def language_headers(languages: Iterable[str]) -> dict[str, str]:
    """`Vary: Accept-Language`, and `Content-Language` naming each language the answer uses."""
    used = [language for language in dict.fromkeys(languages) if language]
    headers = {"Vary": "Accept-Language"}
    if used:
        headers["Content-Language"] = ", ".join(used)
    return headers
