"""REST content negotiation by language: the caller's wanted languages (`?lang=`, then Accept-Language) as a
dependency, and the headers an answer carries (docs/architecture.md, "Languages")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from app.core.concurrency import not_modified
from app.core.languages import LocalizedOut, language_tag, parse_accept_language
from app.core.pagination import Page
from app.core.responses import json_response

LANG_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"


async def wanted_languages(
    request: Request,
    lang: Annotated[
        str | None,
        Query(
            pattern=LANG_PATTERN,
            max_length=35,
            description="Answer in this language (BCP 47), before Accept-Language; each text field falls back "
            "to the item's original language",
        ),
    ] = None,
) -> list[str]:
    """The languages the caller wants, most preferred first: ?lang=, then Accept-Language (RFC 9110 q-values;
    malformed parts ignored)."""
    header = parse_accept_language(request.headers.get("accept-language"))
    return [language_tag(lang, "query.lang"), *header] if lang else header


WantedDep = Annotated[list[str], Depends(wanted_languages)]


def language_headers(languages: Iterable[str]) -> dict[str, str]:
    """`Vary: Accept-Language`, and `Content-Language` naming each language the answer uses."""
    used = [language for language in dict.fromkeys(languages) if language]
    headers = {"Vary": "Accept-Language"}
    if used:
        headers["Content-Language"] = ", ".join(used)
    return headers


def localized_detail(request: Request, out: LocalizedOut, tag: str) -> Response:
    """One item's answer with its language headers. In the original language it keeps its ETag (and 304s);
    a translated answer carries none: the item's ETag, the one writes' If-Match checks, does not name the
    translation's version."""
    headers = language_headers([out.language])
    if out.language != out.original_language:
        return json_response(out, headers=headers)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag, **headers})
    return json_response(out, headers={"ETag": tag, **headers})


def localized_page(page: Page[Any]) -> Response:
    """A page of answers with `Content-Language` naming each language used, and `Vary`."""
    return json_response(page, headers=language_headers(getattr(item, "language", "") for item in page.items))
