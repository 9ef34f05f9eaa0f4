"""GraphQL's side of languages (docs/architecture.md, "Languages"): the type each translatable answer's
`fieldLanguages` lists, and the `lang` argument its reads take. A domain's GraphQL module imports this before
it builds its types from `app.core.languages.LocalizedOut` answers."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.core.languages import FieldLanguageOut
from app.core.negotiation import wanted_from_value


@strawberry.experimental.pydantic.type(
    model=FieldLanguageOut, all_fields=True, description="The language (BCP 47) one text field is in."
)
class FieldLanguage:
    pass


LangArg = Annotated[
    str | None,
    strawberry.argument(
        description="The language to answer in (BCP 47, as REST's ?lang=; or an Accept-Language value with "
        "q-values): each text field falls back to the item's original language; fieldLanguages says which."
    ),
]


def wanted(value: str | None) -> list[str]:
    """The wanted languages of a `lang` argument; a malformed single tag is an error naming `lang`."""
    return wanted_from_value(value, "lang")
