"""GraphQL face of the KPI framework: the same service functions and output schemas as REST."""

from __future__ import annotations

import strawberry
from sqlmodel import Session
from strawberry.scalars import JSON

from app.graphql.context import Context
from app.graphql.relay import Connection, page_request
from app.kpis import service
from app.kpis.models import BenchmarkBasis, Direction, KpiTier
from app.kpis.schemas import BenchmarkOut, DataPointOut, KpiOut

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
    ) -> Connection[Kpi]:
        filters = service.KpiFilters(dimension, subdimension, category, tier, sdg, framework)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_kpis(s, filters, page))
        return Connection[Kpi].from_page(result, lambda k: to_kpi(KpiOut.from_model(k, k.framework.code)))

    @strawberry.field(description="One KPI by slug (EN-EN-AQ-1C) or official code (EN: EN: AQ: 1C).")
    async def kpi(self, info: strawberry.Info[Context, None], slug: str) -> Kpi:
        def load(session: Session) -> KpiOut:
            kpi = service.get_kpi(session, slug)
            return KpiOut.from_model(kpi, kpi.framework.code)

        return to_kpi(await info.context.run_db(load))
