"""REST's side of language negotiation (the rules are app/core/negotiation.py; docs/architecture.md,
"Languages"): the `?lang=` and Accept-Language dependency, and answers carrying Content-Language and Vary."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel

from app.core.concurrency import not_modified
from app.core.languages import language_tag
from app.core.negotiation import LANG_PATTERN, language_headers, parse_accept_language
from app.core.pagination import Page
from app.core.responses import json_response


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


def localized_detail(request: Request, out: BaseModel, tag: str) -> Response:
    """One item's answer (a LocalizedOut, or a solution's, which says the same two languages) with its
    language headers. In the original language it keeps its ETag (and 304s);
    a translated answer carries none: the item's ETag, the one writes' If-Match checks, does not name the
    translation's version."""
    language, original = getattr(out, "language"), getattr(out, "original_language")  # noqa: B009
    headers = language_headers([language])
    if language != original:
        return json_response(out, headers=headers)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag, **headers})
    return json_response(out, headers={"ETag": tag, **headers})


def localized_page(page: Page[Any]) -> Response:
    """A page of answers with `Content-Language` naming each language used, and `Vary`."""
    return json_response(page, headers=language_headers(getattr(item, "language", "") for item in page.items))
