"""GraphQL face of search: the same service and output schema as `GET /api/v1/search`; and of the search
thesaurus (docs/architecture.md §6, "Search across languages"), the same service calls and schemas as its REST face
(app/search_index/thesaurus_router.py), the same admin scope, the create recorded as REST's POST for its
Idempotency-Key."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from app.auth.principal import Scope
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.languages import LangArg, wanted
from app.graphql.mutations import IdempotencyKeyArg, MutationError, create_once, pydantic_input, run_mutation, validated
from app.graphql.relay import Connection, page_request
from app.search_index import thesaurus_service
from app.search_index.service import SearchHitOut, SearchOut, SearchParams, search_catalogue
from app.search_index.thesaurus_router import router as rest
from app.search_index.thesaurus_schemas import ConceptCreateIn, ConceptOut, TermIn, TermOut
from search import SearchEngine


@strawberry.experimental.pydantic.type(model=SearchHitOut, all_fields=True)
class SearchHit:
    highlights: JSON


@strawberry.experimental.pydantic.type(model=SearchOut, all_fields=True)
class SearchResults:
    facets: JSON


@strawberry.input(description="Filters: OR within one list, AND across lists.")
class SearchFilters:
    country: list[str] | None = None
    city: list[str] | None = None
    category: list[str] | None = None
    dimension: list[str] | None = None
    sdg: list[str] | None = None
    kpi: list[str] | None = None
    vendor: list[str] | None = None
    hub: list[str] | None = None
    language: list[str] | None = None
    year: list[str] | None = None


@strawberry.type
class SearchQueries:
    @strawberry.field(description="Full-text search across solutions, case studies, vendors and guidelines.")
    async def search(
        self,
        info: strawberry.Info[Context, None],
        q: str = "",
        types: list[str] | None = None,
        filters: SearchFilters | None = None,
        facets: list[str] | None = None,
        sort: str | None = None,
        page: int = 1,
        per_page: int = 20,
        lang: LangArg = None,
    ) -> SearchResults:
        given = {name: tuple(values) for name, values in vars(filters or SearchFilters()).items() if values}
        if types:
            given["type"] = tuple(types)
        params = SearchParams(
            q=q,
            types=tuple(types or ()),
            filters=given,
            facets=tuple(facets) if facets is not None else ("type", "category"),
            sort=sort,
            page=page,
            per_page=per_page,
            wanted=tuple(wanted(lang)),
        )
        # The engine lives on the app (one per process); the search runs in the thread pool, off the loop.
        request = info.context.request
        assert request is not None  # always set by the GraphQL router
        engine: SearchEngine = request.app.state.search
        result = await run_in_threadpool(search_catalogue, engine, params)
        return SearchResults.from_pydantic(result)


# ================================================================================================ thesaurus
@strawberry.experimental.pydantic.type(model=TermOut, all_fields=True, name="ThesaurusTerm")
class ThesaurusTermType:
    pass


@strawberry.experimental.pydantic.type(
    model=ConceptOut, all_fields=True, name="ThesaurusConcept", description="A concept of the search thesaurus"
)
class ThesaurusConceptType:
    pass


@pydantic_input(TermIn)
class ThesaurusTermInput:
    pass


@pydantic_input(ConceptCreateIn)
class ThesaurusConceptCreateInput:
    pass


ThesaurusResult = Annotated[ThesaurusConceptType | MutationError, strawberry.union("ThesaurusResult")]
ConceptArg = Annotated[str, strawberry.argument(description="The concept's slug (water-loss)")]
TermLangArg = Annotated[str, strawberry.argument(description="BCP 47 tag of a search language (de, nb, pt-BR)")]
TermArg = Annotated[str, strawberry.argument(description="The word or phrase (1-100 characters, no '/')")]


def _concept(out: ConceptOut) -> ThesaurusConceptType:
    return ThesaurusConceptType.from_pydantic(out)


@strawberry.type
class ThesaurusQueries:
    @strawberry.field(
        description="The search thesaurus's concepts and their terms, by slug (GET /api/v1/thesaurus/concepts)."
    )
    async def thesaurus_concepts(
        self, info: strawberry.Info[Context, None], first: int = 20, after: str | None = None
    ) -> Connection[ThesaurusConceptType]:
        page = page_request(first, after)

        def read(session: Session) -> tuple[object, dict[int, ConceptOut]]:
            result = thesaurus_service.list_concepts(session, page)
            return result, {o.id: o for o in thesaurus_service.concept_outs(session, result.items)}

        result, outs = await info.context.run_db(read)
        return Connection[ThesaurusConceptType].from_page(result, lambda c: _concept(outs[c.id]))  # type: ignore[arg-type]

    @strawberry.field(description="One concept of the thesaurus with its terms.")
    async def thesaurus_concept(self, info: strawberry.Info[Context, None], slug: ConceptArg) -> ThesaurusConceptType:
        return _concept(await info.context.run_db(lambda s: thesaurus_service.concept_out(s, slug)))


@strawberry.type
class ThesaurusMutations:
    @strawberry.mutation(
        description="Add a concept to the search thesaurus, with its first terms (admins; POST "
        "/api/v1/thesaurus/concepts)."
    )
    async def create_thesaurus_concept(
        self,
        info: strawberry.Info[Context, None],
        input: ThesaurusConceptCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> ThesaurusResult:
        principal = info.context.principal

        def work(session: Session) -> ThesaurusConceptType:
            body = validated(ConceptCreateIn, input)

            def create() -> tuple[ConceptOut, str]:
                concept = thesaurus_service.create_concept(session, principal, body)
                out = thesaurus_service.concept_out(session, concept.slug)
                return out, path_of(rest, "get_thesaurus_concept", slug=out.slug)

            made = create_once(
                session, info.context, idempotency_key, path_of(rest, "create_thesaurus_concept"), body, create
            )
            if made.created is None:  # a replay: the concept the first call made, as it is now
                return _concept(thesaurus_service.concept_out(session, body.slug))
            return _concept(made.created)

        return await run_mutation(info, work, scopes=(Scope.admin,))

    @strawberry.mutation(
        description="Add a term to a concept in one language (admins; PUT "
        "/api/v1/thesaurus/concepts/{concept}/terms/{lang}/{term}): a term it has already changes nothing."
    )
    async def add_thesaurus_term(
        self, info: strawberry.Info[Context, None], concept: ConceptArg, lang: TermLangArg, term: TermArg
    ) -> ThesaurusResult:
        principal = info.context.principal

        def work(session: Session) -> ThesaurusConceptType:
            out, _added = thesaurus_service.add_term(session, principal, concept, lang, term)
            return _concept(out)

        return await run_mutation(info, work, root=None, scopes=(Scope.admin,))

    @strawberry.mutation(
        description="Remove a term from a concept (admins; DELETE "
        "/api/v1/thesaurus/concepts/{concept}/terms/{lang}/{term}); the concept as it is after."
    )
    async def remove_thesaurus_term(
        self, info: strawberry.Info[Context, None], concept: ConceptArg, lang: TermLangArg, term: TermArg
    ) -> ThesaurusResult:
        principal = info.context.principal

        def work(session: Session) -> ThesaurusConceptType:
            return _concept(thesaurus_service.remove_term(session, principal, concept, lang, term))

        return await run_mutation(info, work, root=None, scopes=(Scope.admin,))
