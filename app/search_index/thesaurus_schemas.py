"""What the thesaurus's two faces read and write (docs/architecture.md §6, "Search across languages")."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.text import SINGLE_LINE_PATTERN, InputModel
from app.search_index.indexes import SEARCH_LANGUAGES

# A concept's slug: lower-case words joined by hyphens, as in seeds/data/thesaurus.yaml ("water-loss").
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TERM_MAX = 100
# What the validators accept, stated in the schema (clients and schemathesis see it) but checked by
# thesaurus_service.checked_language / checked_term, whose messages say what is wrong: a search language's tag
# (a region or script may follow), and a term with a character other than whitespace, no '/' and none of the
# characters every input refuses (app/core/text.py).
LANGUAGE_PATTERN = rf"^(?:{'|'.join(SEARCH_LANGUAGES)})(?:-[A-Za-z0-9]{{1,8}})*$"
_REFUSED = "/" + SINGLE_LINE_PATTERN[3:-3]  # the class inside ^[^...]*$
TERM_PATTERN = rf"^[^{_REFUSED}]*[^{_REFUSED}\s][^{_REFUSED}]*$"


class TermIn(InputModel):
    language: str = Field(
        description="BCP 47 tag of one of the search languages (en, de, nb, zh, ...)",
        json_schema_extra={"pattern": LANGUAGE_PATTERN, "maxLength": 35},
    )
    term: str = Field(
        description=f"A word or phrase, 1-{TERM_MAX} characters, no '/'",
        json_schema_extra={"pattern": TERM_PATTERN, "minLength": 1, "maxLength": TERM_MAX},
    )


class ConceptCreateIn(InputModel):
    slug: str = Field(min_length=2, max_length=64, pattern=SLUG_PATTERN, examples=["noise-pollution"])
    terms: list[TermIn] = Field(default_factory=list, max_length=200, description="The concept's first terms")


class TermOut(BaseModel):
    language: str
    term: str


class ConceptOut(BaseModel):
    id: int
    slug: str
    terms: list[TermOut] = Field(description="By language, then in the order they were added")
