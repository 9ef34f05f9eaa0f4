"""The thesaurus in the database: its reads, the admins' writes, and the synonyms the engines get from it
(docs/architecture.md §6, "Search across languages" and "Thesaurus edits"; the seed file and the synonym merge
are app/search_index/thesaurus.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit.service import record
from app.auth import permissions
from app.auth.principal import Principal
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.languages import is_valid_tag, normalize_tag
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.core.text import control_character_problem
from app.search_index.indexes import DEFINITIONS, SEARCH_LANGUAGES
from app.search_index.models import ThesaurusConcept, ThesaurusTerm
from app.search_index.thesaurus import merge_groups
from app.search_index.thesaurus_schemas import TERM_MAX, ConceptCreateIn, ConceptOut, TermOut
from search import IndexDefinition
from search.definitions import DEFAULT_SYNONYM_GROUPS, synonyms_from_groups

# ------------------------------------------------------------------------------------------- the database


def database_groups(session: Session) -> list[tuple[str, ...]]:
    """One tuple of terms per concept, in the order concepts and terms were added (the seed file's first)."""
    rows = session.exec(
        select(ThesaurusTerm.concept_id, ThesaurusTerm.term).order_by(
            col(ThesaurusTerm.concept_id), col(ThesaurusTerm.id)
        )
    ).all()
    groups: dict[int, list[str]] = {}
    for concept_id, term in rows:
        groups.setdefault(concept_id, []).append(term)
    return [tuple(terms) for terms in groups.values()]


def database_synonyms(session: Session) -> dict[str, list[str]]:
    """The synonyms both engines get: the built-in groups and the database's thesaurus."""
    return synonyms_from_groups(merge_groups([*DEFAULT_SYNONYM_GROUPS, *database_groups(session)]))


def current_definitions(session: Session) -> dict[str, IndexDefinition]:
    """The index definitions with the database's synonyms: what the indexer gives the engines."""
    synonyms = database_synonyms(session)
    return {name: replace(definition, synonyms=synonyms) for name, definition in DEFINITIONS.items()}


def concept_outs(session: Session, concepts: Sequence[ThesaurusConcept]) -> list[ConceptOut]:
    """The concepts with their terms: one statement for the page."""
    ids = [c.id for c in concepts]
    terms: dict[int, list[TermOut]] = {}
    if ids:
        statement = (
            select(ThesaurusTerm)
            .where(col(ThesaurusTerm.concept_id).in_(ids))
            .order_by(col(ThesaurusTerm.language), col(ThesaurusTerm.id))
        )
        for row in session.exec(statement).all():
            terms.setdefault(row.concept_id, []).append(TermOut(language=row.language, term=row.term))
    return [ConceptOut(id=c.id or 0, slug=c.slug, terms=terms.get(c.id or 0, [])) for c in concepts]


def list_concepts(session: Session, page: PageRequest) -> PageResult[ThesaurusConcept]:
    """Every concept, by slug (public: the thesaurus is what search does, nothing private)."""
    keys = [SortKey(ThesaurusConcept.slug), SortKey(ThesaurusConcept.id)]  # type: ignore[arg-type]
    return paginate(session, select(ThesaurusConcept), keys, page)


def get_concept(session: Session, slug: str) -> ThesaurusConcept:
    concept = session.exec(select(ThesaurusConcept).where(col(ThesaurusConcept.slug) == slug)).first()
    if concept is None:
        raise NotFound(f"No thesaurus concept {slug!r}: GET /api/v1/thesaurus/concepts lists them.")
    return concept


def concept_out(session: Session, slug: str) -> ConceptOut:
    """One concept with its terms (404 when there is none of that slug)."""
    return concept_outs(session, [get_concept(session, slug)])[0]


# ---------------------------------------------------------------------------------------------- validation


def checked_language(value: str, field: str) -> str:
    """A BCP 47 tag whose language is one of the search languages (their fields and analyzers,
    app/search_index/indexes.py), normalised; else a 422 naming `field` and the languages."""
    primary = value.split("-")[0].lower()
    if not is_valid_tag(value) or primary not in SEARCH_LANGUAGES:
        raise InvalidInput(
            f"{value!r} is not a language of the thesaurus: a BCP 47 tag of {', '.join(SEARCH_LANGUAGES)} "
            "(a region or script may follow, e.g. pt-BR).",
            errors=[{"field": field, "message": "not a search language", "type": "value_error.language_tag"}],
        )
    return normalize_tag(value)


def _term_problem(value: str, term: str) -> str | None:
    if not term:
        return "is empty"
    if len(term) > TERM_MAX:
        return f"is {len(term)} characters long; at most {TERM_MAX}"
    if "/" in term:
        return "contains '/' (a term is one word or phrase, and a path segment)"
    return control_character_problem(value, multiline=False)


def checked_term(value: str, field: str) -> str:
    """A term with its whitespace collapsed; empty, longer than TERM_MAX, with a '/' or a control character (the
    rule of every input, app/core/text.py) is a 422."""
    term = " ".join(value.split())
    problem = _term_problem(value, term)
    if problem:
        raise InvalidInput(
            f"The term {problem}.", errors=[{"field": field, "message": f"term {problem}", "type": "value_error"}]
        )
    return term


# -------------------------------------------------------------------------------------------------- writes
# Admin-only (the faces require the admin scope); each write is audited on the concept, and the outbox hook
# (app/search_index/outbox.py) queues the synonyms' push to the engines in the same transaction.


def _require_editor(principal: Principal) -> None:
    permissions.require(
        permissions.can_edit_thesaurus(principal), "Only the platform's admins may edit the search thesaurus."
    )


def _find_term(session: Session, concept: ThesaurusConcept, language: str, term: str) -> ThesaurusTerm | None:
    return session.exec(
        select(ThesaurusTerm).where(
            col(ThesaurusTerm.concept_id) == concept.id,
            sa.func.lower(ThesaurusTerm.language) == language.lower(),
            sa.func.lower(ThesaurusTerm.term) == term.lower(),
        )
    ).first()


def create_concept(session: Session, principal: Principal, body: ConceptCreateIn) -> ThesaurusConcept:
    """A new concept with its first terms; a slug taken already is a 409."""
    _require_editor(principal)
    terms = list(
        dict.fromkeys(
            (checked_language(t.language, f"body.terms.{i}.language"), checked_term(t.term, f"body.terms.{i}.term"))
            for i, t in enumerate(body.terms)
        )
    )
    if session.exec(select(ThesaurusConcept.id).where(col(ThesaurusConcept.slug) == body.slug)).first() is not None:
        raise Conflict(f"The thesaurus has a concept {body.slug!r} already: add terms to it (PUT .../terms/...).")
    concept = ThesaurusConcept(slug=body.slug)
    session.add(concept)
    session.flush()
    seen: set[tuple[str, str]] = set()
    for language, term in terms:
        if (language.lower(), term.lower()) not in seen:
            seen.add((language.lower(), term.lower()))
            session.add(ThesaurusTerm(concept_id=concept.id or 0, language=language, term=term))
    record(session, principal, "thesaurus.concept.create", "thesaurus_concept", concept.id or 0,
           {"slug": body.slug, "terms": [f"{lang}:{term}" for lang, term in terms]})  # fmt: skip
    session.flush()
    return concept


def add_term(session: Session, principal: Principal, slug: str, language: str, term: str) -> tuple[ConceptOut, bool]:
    """Add the term (idempotent: a term the concept has, in any case, changes nothing); True if added."""
    _require_editor(principal)
    concept = get_concept(session, slug)
    tag, text = checked_language(language, "path.lang"), checked_term(term, "path.term")
    added = _find_term(session, concept, tag, text) is None
    if added:
        session.add(ThesaurusTerm(concept_id=concept.id or 0, language=tag, term=text))
        record(session, principal, "thesaurus.term.add", "thesaurus_concept", concept.id or 0,
               {"language": tag, "term": text})  # fmt: skip
        session.flush()
    return concept_outs(session, [concept])[0], added


def remove_term(session: Session, principal: Principal, slug: str, language: str, term: str) -> ConceptOut:
    """Remove the term; one the concept does not have is a 404."""
    _require_editor(principal)
    concept = get_concept(session, slug)
    tag, text = checked_language(language, "path.lang"), checked_term(term, "path.term")
    row = _find_term(session, concept, tag, text)
    if row is None:
        raise NotFound(f"The concept {slug!r} has no {tag} term {text!r}.")
    session.delete(row)
    record(session, principal, "thesaurus.term.remove", "thesaurus_concept", concept.id or 0,
           {"language": row.language, "term": row.term})  # fmt: skip
    session.flush()
    return concept_outs(session, [concept])[0]
