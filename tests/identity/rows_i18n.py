"""Permission-matrix rows for translations (app/translations): the same rights as editing the item. Case
studies and guidelines: the editors (admins); a challenge: its city's officials and admins ("own" is city a's);
KPI texts: admins. The search thesaurus (app/search_index/thesaurus_service.py): admins."""

from __future__ import annotations

from sqlmodel import select

from app.case_studies.models import ContentStatus
from app.identity.models import Role
from app.search_index.models import ThesaurusConcept, ThesaurusTerm
from tests.identity.matrix import Call, Row, Scenario, Which
from tests.identity.rows_catalogue import _case_study, _guideline
from tests.identity.rows_city import OFFICIAL_OR_ADMIN, _challenge, _city

ADMIN = frozenset({Role.admin})


def _case_study_translation(scenario: Scenario, which: Which) -> Call:
    cid = _case_study(scenario, which, ContentStatus.published)
    return Call(f"/api/v1/case-studies/{cid}/translations/de", {"title": "Matrix-Fallstudie"})


def _guideline_translation(scenario: Scenario, which: Which) -> Call:
    gid = _guideline(scenario, which, ContentStatus.published)
    return Call(f"/api/v1/procurement-guidelines/{gid}/translations/de", {"title": "Matrix-Leitfaden"})


def _challenge_translation(scenario: Scenario, which: Which) -> Call:
    challenge_id = _challenge(scenario, _city(scenario, which))
    return Call(f"/api/v1/challenges/{challenge_id}/translations/de", {"title": "Matrix-Ausschreibung"})


def _kpi_translation(scenario: Scenario, which: Which) -> Call:
    return Call("/api/v1/kpis/EN-EN-AQ-1C/translations/de", {"name": "Luftqualität (Matrix)"})


def _thesaurus_concept(scenario: Scenario, which: Which) -> Call:
    return Call(
        "/api/v1/thesaurus/concepts", {"slug": "matrix-concept", "terms": [{"language": "de", "term": "Matrix"}]}
    )


def _thesaurus_term(scenario: Scenario, which: Which) -> Call:
    return Call("/api/v1/thesaurus/concepts/water-loss/terms/de/Matrixleck")


def _thesaurus_term_to_remove(scenario: Scenario, which: Which) -> Call:
    """The term to remove, there for each cell (a refused cell left it, an admin's removed it)."""
    with scenario.session() as session:
        concept = session.exec(select(ThesaurusConcept).where(ThesaurusConcept.slug == "water-loss")).one()
        there = select(ThesaurusTerm).where(ThesaurusTerm.concept_id == concept.id, ThesaurusTerm.term == "Matrixleck")
        if session.exec(there).first() is None:
            session.add(ThesaurusTerm(concept_id=concept.id or 0, language="de", term="Matrixleck"))
    return _thesaurus_term(scenario, which)


I18N_ROWS: list[Row] = [
    Row("PUT", "/api/v1/case-studies/{case_study_id}/translations/{lang}", _case_study_translation, own=ADMIN),
    Row("PUT", "/api/v1/procurement-guidelines/{guideline_id}/translations/{lang}", _guideline_translation, own=ADMIN),
    Row("PUT", "/api/v1/challenges/{challenge_id}/translations/{lang}", _challenge_translation, own=OFFICIAL_OR_ADMIN),
    Row("PUT", "/api/v1/kpis/{slug}/translations/{lang}", _kpi_translation, own=ADMIN, other=ADMIN),
    Row("POST", "/api/v1/thesaurus/concepts", _thesaurus_concept, own=ADMIN, other=ADMIN),
    Row("PUT", "/api/v1/thesaurus/concepts/{concept}/terms/{lang}/{term}", _thesaurus_term, own=ADMIN, other=ADMIN),
    Row(
        "DELETE",
        "/api/v1/thesaurus/concepts/{concept}/terms/{lang}/{term}",
        _thesaurus_term_to_remove,
        own=ADMIN,
        other=ADMIN,
    ),
]
