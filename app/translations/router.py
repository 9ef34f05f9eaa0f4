"""REST face of translations (docs/architecture.md, "Languages"): for each kind, GET .../translations and
PUT .../translations/{lang}, the same rights as editing the item (its domain's `translation_target`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Response

from app.auth.deps import PrincipalDep, require_scopes
from app.auth.principal import Principal, Scope
from app.case_studies import service as case_studies
from app.challenges import service as challenges
from app.core.deps import SessionDep
from app.core.ids import Id
from app.core.routing import api_router
from app.guidelines import service as guidelines
from app.kpis import service as kpis
from app.translations import service
from app.translations.models import TranslatableKind
from app.translations.schemas import (
    CaseStudyTranslationIn,
    ChallengeTranslationIn,
    GuidelineTranslationIn,
    KpiTranslationIn,
    TranslationInBase,
    TranslationOut,
)

router = api_router(prefix="/api/v1", tags=["translations"])

Editor = Annotated[Principal, Depends(require_scopes(Scope.admin))]
CityWriter = Annotated[Principal, Depends(require_scopes(Scope.challenges_write))]
PUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created"},
    401: {"description": "No (valid) token"},
    403: {"description": "Not allowed to edit the item"},
    404: {"description": "No such item (or one you may not see)"},
    409: {"description": "A machine translation over a human one, or a translation into the original language"},
    422: {"description": "Invalid input or language tag"},
}
_SUMMARY = (
    "Create (201) or replace (200) the {what}'s translation into one language (BCP 47): {who}; a machine "
    "translation never replaces a human one (409)"
)


def _answer(response: Response, out: TranslationOut, created: bool) -> TranslationOut:
    response.status_code = 201 if created else 200
    response.headers["Content-Language"] = out.language
    return out


def _put(session: SessionDep, principal: Principal, target: service.Target, lang: str, body: TranslationInBase) -> Any:
    out, created = service.put_translation(session, principal, target, lang, body)
    session.commit()
    return out, created


# ------------------------------------------------------------------------------------------------ case studies
@router.get(
    "/case-studies/{case_study_id}/translations",
    response_model=list[TranslationOut],
    summary="A case study's translations, by language",
)
def list_case_study_translations(
    session: SessionDep, principal: PrincipalDep, case_study_id: Id
) -> list[TranslationOut]:
    case_studies.get_case_study(session, principal, case_study_id)  # 404 for what the caller may not see
    return service.list_translations(session, TranslatableKind.case_study, case_study_id)


@router.put(
    "/case-studies/{case_study_id}/translations/{lang}",
    response_model=TranslationOut,
    summary=_SUMMARY.format(what="case study", who="the editors"),
    responses=PUT_RESPONSES,
)
def put_case_study_translation(
    session: SessionDep,
    principal: Editor,
    response: Response,
    case_study_id: Id,
    lang: str,
    body: CaseStudyTranslationIn,  # type: ignore[valid-type]
) -> TranslationOut:
    target = case_studies.translation_target(session, principal, case_study_id)
    return _answer(response, *_put(session, principal, target, lang, body))


# ------------------------------------------------------------------------------------------------- guidelines
@router.get(
    "/procurement-guidelines/{guideline_id}/translations",
    response_model=list[TranslationOut],
    summary="A procurement guideline's translations, by language",
)
def list_guideline_translations(session: SessionDep, principal: PrincipalDep, guideline_id: Id) -> list[TranslationOut]:
    guidelines.get_guideline(session, principal, guideline_id)
    return service.list_translations(session, TranslatableKind.guideline, guideline_id)


@router.put(
    "/procurement-guidelines/{guideline_id}/translations/{lang}",
    response_model=TranslationOut,
    summary=_SUMMARY.format(what="procurement guideline", who="the editors"),
    responses=PUT_RESPONSES,
)
def put_guideline_translation(
    session: SessionDep,
    principal: Editor,
    response: Response,
    guideline_id: Id,
    lang: str,
    body: GuidelineTranslationIn,  # type: ignore[valid-type]
) -> TranslationOut:
    target = guidelines.translation_target(session, principal, guideline_id)
    return _answer(response, *_put(session, principal, target, lang, body))


# ------------------------------------------------------------------------------------------------- challenges
@router.get(
    "/challenges/{challenge_id}/translations",
    response_model=list[TranslationOut],
    summary="A challenge's translations, by language",
)
def list_challenge_translations(session: SessionDep, challenge_id: Id) -> list[TranslationOut]:
    challenges.get_challenge(session, challenge_id)
    return service.list_translations(session, TranslatableKind.challenge, challenge_id)


@router.put(
    "/challenges/{challenge_id}/translations/{lang}",
    response_model=TranslationOut,
    summary=_SUMMARY.format(what="challenge", who="its city's officials and admins"),
    responses=PUT_RESPONSES,
)
def put_challenge_translation(
    session: SessionDep,
    principal: CityWriter,
    response: Response,
    challenge_id: Id,
    lang: str,
    body: ChallengeTranslationIn,  # type: ignore[valid-type]
) -> TranslationOut:
    target = challenges.translation_target(session, principal, challenge_id)
    return _answer(response, *_put(session, principal, target, lang, body))


# ------------------------------------------------------------------------------------------------------- KPIs
@router.get("/kpis/{slug}/translations", response_model=list[TranslationOut], summary="A KPI's translations")
def list_kpi_translations(session: SessionDep, slug: str) -> list[TranslationOut]:
    kpi = kpis.get_kpi(session, slug)
    return service.list_translations(session, TranslatableKind.kpi, kpi.id or 0)


@router.put(
    "/kpis/{slug}/translations/{lang}",
    response_model=TranslationOut,
    summary=_SUMMARY.format(what="KPI", who="admins") + " (name and notes)",
    responses=PUT_RESPONSES,
)
def put_kpi_translation(
    session: SessionDep,
    principal: Editor,
    response: Response,
    slug: str,
    lang: str,
    body: KpiTranslationIn,  # type: ignore[valid-type]
) -> TranslationOut:
    _kpi, target = kpis.translation_target(session, principal, slug)
    return _answer(response, *_put(session, principal, target, lang, body))
