"""What the thesaurus's two faces read and write (docs/architecture.md §6, "Search across languages")."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.text import InputModel

# A concept's slug: lower-case words joined by hyphens, as in seeds/data/thesaurus.yaml ("water-loss").
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TERM_MAX = 100


class TermIn(InputModel):
    language: str = Field(description="BCP 47 tag of one of the search languages (en, de, nb, zh, ...)")
    term: str = Field(description=f"A word or phrase, 1-{TERM_MAX} characters, no '/'")


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
