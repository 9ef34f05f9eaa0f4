"""REST face of the thesaurus (docs/architecture.md §6, "Search across languages"): the concepts and their terms (public
read, paginated), and the admins' writes: create a concept (POST, Idempotency-Key), add a term (PUT,
idempotent) and remove one (DELETE). An edit reaches both engines' synonyms through the search outbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import require_scopes
from app.auth.principal import Principal, Scope
from app.core.deps import PageDep, SessionDep
from app.core.idempotency import create_once
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router
from app.search_index import thesaurus_service as service
from app.search_index.thesaurus_schemas import ConceptCreateIn, ConceptOut

router = api_router(prefix="/api/v1/thesaurus", tags=["search"])

Admin = Annotated[Principal, Depends(require_scopes(Scope.admin))]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) access token"},
    403: {"description": "Not an admin"},
    404: {"description": "No such concept (or term, for a removal)"},
    422: {"description": "A language outside the search languages, an empty or too long term"},
}
TERM_PATH = "/concepts/{concept}/terms/{lang}/{term}"


@router.get("/concepts", response_model=Page[ConceptOut], summary="The thesaurus's concepts and their terms")
def list_thesaurus_concepts(session: SessionDep, page: PageDep) -> Page[ConceptOut]:
    result = service.list_concepts(session, page)
    return Page(items=service.concept_outs(session, result.items), total=result.total, next_cursor=result.next_cursor)


@router.get("/concepts/{slug}", response_model=ConceptOut, summary="One concept of the thesaurus with its terms")
def get_thesaurus_concept(session: SessionDep, slug: str) -> ConceptOut:
    return service.concept_out(session, slug)


@router.post(
    "/concepts",
    status_code=201,
    response_model=ConceptOut,
    summary="Add a concept to the thesaurus, with its first terms (admins); Idempotency-Key to retry safely",
    responses={**PROBLEMS, 409: {"description": "The slug is taken"}},
)
def create_thesaurus_concept(
    session: SessionDep, principal: Admin, request: Request, body: ConceptCreateIn
) -> JSONResponse:
    def create() -> tuple[ConceptOut, str]:
        concept = service.create_concept(session, principal, body)
        out = service.concept_out(session, concept.slug)
        return out, path_of(router, "get_thesaurus_concept", slug=out.slug)

    return create_once(session, principal, request, body, create)


@router.put(
    TERM_PATH,
    response_model=ConceptOut,
    summary="Add a term to a concept in one language (admins): 201 when added, 200 when it was there already",
    responses={**PROBLEMS, 201: {"description": "Added"}},
)
def add_thesaurus_term(
    session: SessionDep, principal: Admin, response: Response, concept: str, lang: str, term: str
) -> ConceptOut:
    out, added = service.add_term(session, principal, concept, lang, term)
    session.commit()
    response.status_code = 201 if added else 200
    return out


@router.delete(
    TERM_PATH,
    status_code=204,
    summary="Remove a term from a concept (admins); the concept stays, with its other terms",
    responses=PROBLEMS,
)
def remove_thesaurus_term(session: SessionDep, principal: Admin, concept: str, lang: str, term: str) -> Response:
    service.remove_term(session, principal, concept, lang, term)
    session.commit()
    return Response(status_code=204)
