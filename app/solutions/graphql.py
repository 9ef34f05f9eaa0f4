"""GraphQL face of solutions: the same service functions and output schemas as REST.

Related objects (vendor, KPI impacts and their KPIs, deployments and their cities) are resolver fields
backed by this request's DataLoaders, so a page of solutions costs the same number of statements
whatever its size.
"""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import replace
from typing import Annotated, Any

import strawberry
from sqlmodel import Session

from app.auth.principal import Scope
from app.cities.graphql import City
from app.cities.schemas import CityOut
from app.core.errors import NotFound
from app.core.pagination import PageResult
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.languages import wanted as wanted_languages
from app.graphql.loaders import asked_below, asks, get_loaders, now_or_later
from app.graphql.mutations import (
    Deleted,
    DeleteResult,
    IdempotencyKeyArg,
    MutationError,
    create_once,
    generated_mutations,
    pydantic_input,
    run_mutation,
    validated,
    validated_arguments,
)
from app.graphql.relay import Connection, page_request
from app.kpis.graphql import SUMMARY_FIELDS, Kpi, to_kpi, to_kpi_summary
from app.kpis.models import Kpi as KpiRow
from app.kpis.schemas import KpiOut
from app.solutions import lifecycle, service
from app.solutions.models import EvidenceLevel, ListingStatus, Maturity, PriceModel, TranslationOrigin
from app.solutions.models import Solution as SolutionRow
from app.solutions.models import SolutionKpiImpact as KpiImpactRow
from app.solutions.router import router as rest
from app.solutions.schemas import (
    DeploymentIn,
    DeploymentOut,
    FieldLanguagesOut,
    KpiImpactIn,
    KpiImpactOut,
    ReviewNoteIn,
    SolutionBaseOut,
    SolutionCreateIn,
    SolutionDetailOut,
    SolutionFilters,
    SolutionOut,
    SolutionTranslationIn,
    SolutionTranslationOut,
    SolutionUpdateIn,
)
from app.vendors.graphql import Vendor, to_vendor
from app.vendors.models import Vendor as VendorRow

MaturityEnum = strawberry.enum(Maturity)
PriceModelEnum = strawberry.enum(PriceModel)
ListingStatusEnum = strawberry.enum(ListingStatus)
EvidenceLevelEnum = strawberry.enum(EvidenceLevel)
SolutionSortEnum = strawberry.enum(service.SolutionSort, name="SolutionSort")


def kpi_object(context: Context, kpi: KpiRow) -> Kpi:
    """A loaded KPI's GraphQL object, made once per request."""
    return context.converted("Kpi", kpi.id, lambda: to_kpi(KpiOut.from_model(kpi, kpi.framework.code)))


async def resolve_kpis(info: strawberry.Info[Context, None], kpi_ids: Iterable[int]) -> list[Kpi]:
    """KPIs by id in code order, through this request's KPI loader (for every type that points at KPIs)."""
    rows = [k for k in await get_loaders(info.context).kpi.load_many(kpi_ids) if k is not None]
    return [kpi_object(info.context, k) for k in sorted(rows, key=lambda k: k.code)]


async def resolve_city(info: strawberry.Info[Context, None], city_id: int) -> City:
    """A city by id, through this request's city loader (for every type that points at a city)."""
    city = await get_loaders(info.context).city.load(city_id)
    if city is None:
        raise NotFound(f"No city with id {city_id}.")
    return City.from_pydantic(CityOut.from_model(city))


@strawberry.experimental.pydantic.type(model=KpiImpactOut, description="A KPI the solution claims to improve.")
class KpiImpact:
    data_point: strawberry.auto
    expected_effect: strawberry.auto
    evidence_level: strawberry.auto
    case_study_id: strawberry.auto
    note: strawberry.auto
    kpi_id: strawberry.Private[int]
    # Under a page whose query asks only the KPI's own fields (`prefetch_page`): the KPI's row, which the
    # impact's statement loads (app.solutions.service.impacts_by_solution), without its relationships.
    kpi_row: strawberry.Private[KpiRow | None] = None

    @strawberry.field(description="The same as expectedEffect: the share of a city's gap it expects to close.")
    def effect(self) -> float:
        effect: float = self.expected_effect
        return effect

    @strawberry.field(description="The KPI the claim is on.")
    def kpi(self, info: strawberry.Info[Context, None]) -> Kpi:
        # Sync: at once when a page's prefetch loaded it (app.graphql.loaders.now_or_later).
        kpi_id, context, row = self.kpi_id, info.context, self.kpi_row
        if row is not None:  # its own kind: never handed to a selection that asks more
            return context.converted("KpiSummary", kpi_id, lambda: to_kpi_summary(row))

        def convert(kpi: KpiRow | None) -> Kpi:
            if kpi is None:
                raise NotFound(f"No KPI with id {kpi_id}.")
            return kpi_object(context, kpi)

        return now_or_later(get_loaders(context).kpi, kpi_id, convert)


def to_kpi_impact(impact: KpiImpactRow, kpi_summary: bool = False) -> KpiImpact:
    """`kpi_summary`: its `kpi` field answers from the KPI row loaded with it (`prefetch_page`)."""
    extra = {"kpi_id": impact.kpi_id, "kpi_row": impact.kpi if kpi_summary else None}
    return KpiImpact.from_pydantic(KpiImpactOut.from_model(impact), extra=extra)


@strawberry.experimental.pydantic.type(model=DeploymentOut, all_fields=True)
class Deployment:
    city_id: int

    @strawberry.field
    async def city(self, info: strawberry.Info[Context, None]) -> City:
        return await resolve_city(info, self.city_id)


@strawberry.experimental.pydantic.type(
    model=FieldLanguagesOut, all_fields=True, description="The language (BCP 47) each text field is in."
)
class FieldLanguages:
    pass


TranslationOriginEnum = strawberry.enum(TranslationOrigin)


@strawberry.experimental.pydantic.type(model=SolutionTranslationOut, all_fields=True)
class SolutionTranslation:
    pass


@strawberry.experimental.pydantic.type(model=SolutionBaseOut, all_fields=True)
class Solution:
    id: int
    vendor_id: int
    # Set by `prefetch_page` when the query asks only the KPIs' own fields under kpiImpacts.
    kpi_summaries: strawberry.Private[bool] = False

    # `vendor` and `kpiImpacts` are sync: at once when a page's prefetch (`prefetch_page`) or the read of one
    # solution loaded them, through the loader otherwise (app.graphql.loaders.now_or_later).
    @strawberry.field
    def vendor(self, info: strawberry.Info[Context, None]) -> Vendor:
        vendor_id = self.vendor_id

        def convert(vendor: VendorRow | None) -> Vendor:
            if vendor is None:
                raise NotFound(f"No vendor with id {vendor_id}.")
            return info.context.converted("Vendor", vendor.id, lambda: to_vendor(vendor))

        return now_or_later(get_loaders(info.context).vendor, vendor_id, convert)

    @strawberry.field(description="The KPIs it claims to improve, in KPI code order.")
    def kpi_impacts(self, info: strawberry.Info[Context, None]) -> list[KpiImpact]:
        summary = self.kpi_summaries
        return now_or_later(
            get_loaders(info.context).kpi_impacts, self.id, lambda rows: [to_kpi_impact(i, summary) for i in rows]
        )

    @strawberry.field(description="Where it is deployed, newest first.")
    async def deployments(self, info: strawberry.Info[Context, None]) -> list[Deployment]:
        return [Deployment.from_pydantic(d) for d in await get_loaders(info.context).deployments.load(self.id)]


def to_solution(solution: SolutionRow | SolutionBaseOut, kpi_summaries: bool = False) -> Solution:
    """A loaded row (related objects' loaders), or the output schema the service's reads build."""
    out = solution if isinstance(solution, SolutionBaseOut) else SolutionBaseOut.from_model(solution)
    return Solution.from_pydantic(out, extra={"kpi_summaries": True} if kpi_summaries else None)


async def prefetch_page(info: strawberry.Info[Context, None], solutions: Sequence[SolutionBaseOut]) -> bool:
    """Load what the query asks of a page's solutions (their vendors and KPI impacts, then the impacts' KPIs)
    through this request's loaders, each once for the page, so that the nested fields find it loaded: the
    same batches as the fields' own loads, without a coroutine per object. A failed load is left to the
    fields, which raise it each on its own path, as they would have.

    True when the KPIs asked under kpiImpacts need only their own row (app.kpis.graphql.SUMMARY_FIELDS):
    the impacts' statement loads those rows, so the KPIs are not loaded again with their relationships (no
    KPI batch at all, five statements fewer), and the page's solutions are marked so that their impacts
    resolve to them."""
    loaders = get_loaders(info.context)
    node = ("edges", "node")
    loads: list[Awaitable[Any]] = []
    if asks(info, *node, "vendor"):
        loads.append(loaders.vendor.load_many({s.vendor_id for s in solutions}))
    impacts = asks(info, *node, "kpiImpacts")
    if impacts:
        loads.append(loaders.kpi_impacts.load_many([s.id for s in solutions]))
    loaded = await asyncio.gather(*loads, return_exceptions=True)
    kpi_fields = asked_below(info, *node, "kpiImpacts", "kpi") if impacts else set()
    summary = bool(kpi_fields) and kpi_fields <= SUMMARY_FIELDS
    if kpi_fields and not summary and not isinstance(loaded[-1], BaseException):
        kpi_ids = {i.kpi_id for rows in loaded[-1] for i in rows}
        await asyncio.gather(loaders.kpi.load_many(kpi_ids), return_exceptions=True)
    return summary


LangArg = Annotated[
    str | None,
    strawberry.argument(
        description="The language to answer in (BCP 47; REST's ?lang=, or an Accept-Language value with "
        "q-values): each text field falls back to the listing's original language; fieldLanguages says which."
    ),
]


@strawberry.type
class SolutionQueries:
    @strawberry.field(description="The solutions you may see (published ones); filters as in GET /api/v1/solutions.")
    async def solutions(
        self,
        info: strawberry.Info[Context, None],
        vendor: int | None = None,
        country: str | None = None,
        category: str | None = None,
        dimension: str | None = None,
        kpi: str | None = None,
        sdg: int | None = None,
        maturity: Maturity | None = None,
        price_model: PriceModel | None = None,
        language: str | None = None,
        evidence: EvidenceLevel | None = None,
        status: ListingStatus | None = None,
        hub: int | None = None,
        sort: service.SolutionSort = service.SolutionSort.alphabetical,
        first: int = 20,
        after: str | None = None,
        lang: LangArg = None,
    ) -> Connection[Solution]:
        filters = validated_arguments(
            SolutionFilters,
            vendor=vendor,
            country=country,
            category=category,
            dimension=dimension,
            kpi=kpi,
            sdg=sdg,
            maturity=maturity,
            price_model=price_model,
            language=language,
            evidence=evidence,
            status=status,
            hub=hub,
        )
        page = page_request(first, after)
        principal = info.context.principal
        wanted = wanted_languages(lang)

        def read(session: Session) -> PageResult[SolutionOut]:
            result = service.list_solutions(session, principal, filters, page, sort)
            return replace(result, items=service.localize_in(session, result.items, wanted))

        result = await info.context.run_db(read)
        summary = await prefetch_page(info, result.items)
        return Connection[Solution].from_page(result, lambda out: to_solution(out, kpi_summaries=summary))

    @strawberry.field(description="One solution (the same id as in REST); unpublished ones only for their vendor.")
    async def solution(self, info: strawberry.Info[Context, None], id: int, language: LangArg = None) -> Solution:
        principal = info.context.principal
        wanted = wanted_languages(language)
        loaders = get_loaders(info.context)
        vendor = loaders.vendor if asks(info, "vendor") else None  # made here, on the event loop's thread

        def read(session: Session) -> tuple[SolutionOut, dict[int, VendorRow | None]]:
            out = service.localize_in(session, [service.get_solution(session, principal, id)], wanted)[0]
            # Its vendor in the same session, if asked: one thread-pool hop and session for both.
            return out, loaders.fetch_in(session, vendor, [out.vendor_id]) if vendor is not None else {}

        out, vendors = await info.context.run_db(read)
        if vendor is not None:
            vendor.prime_many(vendors)
        return to_solution(out)

    @strawberry.field(description="A listing's translations, by language (GET /api/v1/solutions/{id}/translations).")
    async def solution_translations(self, info: strawberry.Info[Context, None], id: int) -> list[SolutionTranslation]:
        principal = info.context.principal
        rows = await info.context.run_db(lambda s: service.list_translations(s, principal, id))
        return [SolutionTranslation.from_pydantic(r) for r in rows]


# ================================================================================================ mutations
# The REST writes of app/solutions/router.py, through the same service functions (app/graphql/mutations.py
# says how results, errors, inputs and the unit of work are shared).


@pydantic_input(KpiImpactIn)
class KpiImpactInput:
    pass


@pydantic_input(DeploymentIn)
class DeploymentInput:
    pass


@pydantic_input(SolutionCreateIn)
class SolutionCreateInput:
    pass


@pydantic_input(SolutionUpdateIn, partial=True)
class SolutionUpdateInput:
    pass


@pydantic_input(SolutionTranslationIn)
class SolutionTranslationInput:
    pass


SolutionResult = Annotated[Solution | MutationError, strawberry.union("SolutionResult")]
SolutionTranslationResult = Annotated[
    SolutionTranslation | MutationError, strawberry.union("SolutionTranslationResult")
]
ExpectedVersionArg = Annotated[
    int, strawberry.argument(description="The version you last read (REST's If-Match): a stale one is refused.")
]
NoteArg = Annotated[
    str,
    strawberry.argument(
        description="For the vendor, kept in the listing's history (request changes and reject need one)."
    ),
]


def to_solution_result(out: SolutionBaseOut) -> Solution:
    return Solution.from_pydantic(out)


def _transition_mutation(transition: lifecycle.Transition) -> Any:
    """The mutation of one lifecycle move, named, described and scoped as the table says (as its REST route)."""
    action, scopes = transition.action, transition.face.scopes

    async def resolve(
        self: Any,
        info: strawberry.Info[Context, None],
        id: int,
        expected_version: ExpectedVersionArg,
        note: NoteArg = "",
    ) -> SolutionResult:
        principal = info.context.principal

        def work(session: Session) -> Solution:
            body = validated(ReviewNoteIn, {"note": note}, root=None)
            out = service.transition_solution(session, principal, id, action, lambda: expected_version, body.note)
            return to_solution_result(out)

        return await run_mutation(info, work, root=None, scopes=scopes)

    return strawberry.mutation(resolve, description=transition.face.graphql_description)


# One mutation per move of the lifecycle table (app/solutions/router.py makes the REST routes from it).
@generated_mutations({t.face.name: _transition_mutation(t) for t in lifecycle.TRANSITIONS.values()})
class SolutionLifecycleMutations:
    """The listing lifecycle's moves: one mutation per row of app.solutions.lifecycle.TRANSITIONS."""


@strawberry.type
class SolutionWriteMutations:
    @strawberry.mutation(description="Create a draft listing for your vendor (POST /api/v1/solutions).")
    async def create_solution(
        self,
        info: strawberry.Info[Context, None],
        input: SolutionCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> SolutionResult:
        principal = info.context.principal

        def work(session: Session) -> Solution:
            body = validated(SolutionCreateIn, input)

            def create() -> tuple[SolutionDetailOut, str]:
                out = service.create_solution(session, principal, body)
                return out, path_of(rest, "get_solution", solution_id=out.id)

            made = create_once(session, info.context, idempotency_key, path_of(rest, "create_solution"), body, create)
            if made.created is None:  # a replay: the listing the first call created, as it is now
                return to_solution(service.get_solution(session, principal, made.id))
            return to_solution_result(made.created)

        return await run_mutation(info, work, scopes=(Scope.solutions_write,))

    @strawberry.mutation(description="Edit a listing: only the fields given change (PATCH /api/v1/solutions/{id}).")
    async def update_solution(
        self,
        info: strawberry.Info[Context, None],
        id: int,
        expected_version: ExpectedVersionArg,
        input: SolutionUpdateInput,
    ) -> SolutionResult:
        principal = info.context.principal

        def work(session: Session) -> Solution:
            body = validated(SolutionUpdateIn, input)
            return to_solution_result(service.update_solution(session, principal, id, body, lambda: expected_version))

        return await run_mutation(info, work, scopes=(Scope.solutions_write,))

    @strawberry.mutation(
        description="Create or replace a listing's translation into one language "
        "(PUT /api/v1/solutions/{id}/translations/{lang}); a machine translation never replaces a human one."
    )
    async def put_solution_translation(
        self, info: strawberry.Info[Context, None], id: int, lang: str, input: SolutionTranslationInput
    ) -> SolutionTranslationResult:
        principal = info.context.principal

        def work(session: Session) -> SolutionTranslation:
            body = validated(SolutionTranslationIn, input)
            out, _ = service.put_translation(session, principal, id, lang, body)
            return SolutionTranslation.from_pydantic(out)

        return await run_mutation(info, work, scopes=(Scope.solutions_write,))

    @strawberry.mutation(description="Delete a draft that was never submitted; archive anything else.")
    async def delete_solution(
        self, info: strawberry.Info[Context, None], id: int, expected_version: ExpectedVersionArg
    ) -> DeleteResult:
        principal = info.context.principal

        def work(session: Session) -> Deleted:
            service.delete_solution(session, principal, id, lambda: expected_version)
            return Deleted(id=id)

        return await run_mutation(info, work, root=None, scopes=(Scope.solutions_write,))


@strawberry.type
class SolutionMutations(SolutionWriteMutations, SolutionLifecycleMutations):
    """Every REST write of listings."""
