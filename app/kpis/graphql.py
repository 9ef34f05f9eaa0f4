"""GraphQL face of the KPI framework: the same service functions and output schemas as REST."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel import Session
from strawberry.scalars import JSON

from app.auth.principal import Scope
from app.core.errors import PreconditionFailed, PreconditionRequired
from app.core.ids import parse_bounded
from app.core.pagination import PageResult
from app.graphql.context import Context
from app.graphql.languages import FieldLanguage, LangArg, wanted
from app.graphql.mutations import MutationError, pydantic_input, run_mutation, validated, validated_arguments
from app.graphql.relay import Connection, page_request
from app.kpis import service
from app.kpis.models import BenchmarkBasis, Direction, KpiTier
from app.kpis.models import Kpi as KpiRow
from app.kpis.schemas import BenchmarkIn, BenchmarkOut, DataPointOut, KpiFilters, KpiOut

KpiTierEnum = strawberry.enum(KpiTier)
DirectionEnum = strawberry.enum(Direction)
BenchmarkBasisEnum = strawberry.enum(BenchmarkBasis)


@strawberry.experimental.pydantic.type(model=BenchmarkOut, all_fields=True)
class Benchmark:
    pass


@strawberry.experimental.pydantic.type(model=DataPointOut, all_fields=True)
class DataPoint:
    pass


@strawberry.experimental.pydantic.type(model=KpiOut, all_fields=True)
class Kpi:
    provenance: JSON


def to_kpi(out: KpiOut) -> Kpi:
    return Kpi.from_pydantic(out)


# The Kpi fields read from the KPI's own row (and its untranslated languages): a selection of these alone
# needs neither the framework, the SDGs nor the data points and benchmarks (`to_kpi_summary`).
SUMMARY_FIELDS = frozenset(
    {"__typename", "language", "originalLanguage", "fieldLanguages", "slug", "code", "name", "dimension"}
    | {"subdimension", "category", "tier", "unit", "direction", "officialSdgReference", "provenance", "notes"}
)


def to_kpi_summary(kpi: KpiRow) -> Kpi:
    """The GraphQL object of a KPI row loaded without its relationships, for a selection of SUMMARY_FIELDS
    alone: framework, sdgs and dataPoints are left empty, so it is never handed to another selection
    (a conversion kind of its own, app/solutions/graphql.py)."""
    out = KpiOut(
        slug=kpi.slug,
        code=kpi.code,
        framework="",
        name=kpi.name,
        dimension=kpi.dimension,
        subdimension=kpi.subdimension,
        category=kpi.category,
        tier=kpi.tier,
        unit=kpi.unit,
        direction=kpi.direction,
        sdgs=[],
        official_sdg_reference=kpi.official_sdg_reference,
        data_points=[],
        provenance=kpi.provenance,
        notes=kpi.notes,
    )
    return Kpi.from_pydantic(out)


_REGISTERED = (FieldLanguage,)  # the type fieldLanguages lists


@strawberry.type
class KpiQueries:
    @strawberry.field(description="The KPIs, sorted by code; filters as in GET /api/v1/kpis.")
    async def kpis(
        self,
        info: strawberry.Info[Context, None],
        dimension: str | None = None,
        subdimension: str | None = None,
        category: str | None = None,
        tier: KpiTier | None = None,
        sdg: int | None = None,
        framework: str | None = None,
        first: int = 20,
        after: str | None = None,
        lang: LangArg = None,
    ) -> Connection[Kpi]:
        filters = validated_arguments(
            KpiFilters,
            dimension=dimension,
            subdimension=subdimension,
            category=category,
            tier=tier,
            sdg=sdg,
            framework=framework,
        )
        page = page_request(first, after)
        languages = wanted(lang)

        def read(session: Session) -> PageResult[KpiOut]:
            result = service.list_kpis(session, filters, page)
            items = service.kpi_outs(session, result.items, languages)
            return PageResult(items, result.total, result.next_cursor, result.cursors, result.has_previous)

        return Connection[Kpi].from_page(await info.context.run_db(read), to_kpi)

    @strawberry.field(description="One KPI by slug (EN-EN-AQ-1C) or official code (EN: EN: AQ: 1C).")
    async def kpi(self, info: strawberry.Info[Context, None], slug: str, lang: LangArg = None) -> Kpi:
        languages = wanted(lang)

        def load(session: Session) -> KpiOut:
            return service.kpi_outs(session, [service.get_kpi(session, slug)], languages)[0]

        return to_kpi(await info.context.run_db(load))


# ================================================================================================ mutations
# The REST write of app/kpis/router.py (an admin's benchmark), through the same service function
# (app/graphql/mutations.py says how results, errors, inputs and the unit of work are shared).


@pydantic_input(BenchmarkIn)
class BenchmarkInput:
    pass


BenchmarkResult = Annotated[Benchmark | MutationError, strawberry.union("BenchmarkResult")]
_GRAPHQL_INT_MAX = 2**31 - 1


def _expected_benchmark_version(expected_version: str | None) -> int:
    """The benchmark's `version` the client read (digits in a string: too large for a GraphQL Int); as REST's
    If-Match, missing: PRECONDITION_REQUIRED, not a version: PRECONDITION_FAILED."""
    if expected_version is None:
        raise PreconditionRequired(
            "Replacing a benchmark needs expectedVersion, the version of your last read, so that you cannot "
            "overwrite someone else's change unknowingly."
        )
    token = expected_version.strip()
    version = parse_bounded(token)
    if version is None:
        raise PreconditionFailed(
            f"expectedVersion {expected_version!r} is not a version of this benchmark (its `version` field, "
            "digits); read it again."
        )
    return version


@strawberry.type
class KpiMutations:
    @strawberry.mutation(
        description="Set a data point's benchmark (admins): it replaces the platform's default and is marked as "
        "not one (PUT /api/v1/kpis/{slug}/data-points/{key}/benchmark). expectedVersion, the Benchmark's "
        "version, is needed to replace one."
    )
    async def update_benchmark(
        self,
        info: strawberry.Info[Context, None],
        kpi: Annotated[str, strawberry.argument(description="The KPI's slug (EN-EN-AQ-1C) or official code.")],
        data_point: Annotated[
            str,
            strawberry.argument(description='The data point\'s key ("PM2.5"); "_" (or "") for the KPI as a whole.'),
        ],
        *,
        expected_version: Annotated[
            str | None,
            strawberry.argument(
                description="The benchmark's version you last read (REST's If-Match): a stale one is refused."
            ),
        ] = None,
        input: BenchmarkInput,
    ) -> BenchmarkResult:
        principal = info.context.principal

        def work(session: Session) -> Benchmark:
            body = validated(BenchmarkIn, input)
            benchmark, _created = service.put_benchmark(
                session, principal, kpi, data_point, body, lambda: _expected_benchmark_version(expected_version)
            )
            return Benchmark.from_pydantic(BenchmarkOut.from_model(benchmark))

        result = await run_mutation(info, work, scopes=(Scope.admin,))
        if isinstance(result, MutationError) and abs(result.current_version or 0) > _GRAPHQL_INT_MAX:
            # The benchmark's version does not fit MutationError.currentVersion (an Int): read `version` again.
            result.current_version = None
        return result
