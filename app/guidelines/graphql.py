"""GraphQL face of procurement guidelines: the same service functions and output schemas as REST."""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

import strawberry

from app.graphql.context import Context
from app.graphql.relay import Connection, page_request
from app.guidelines import service
from app.guidelines.models import ProcurementGuideline as GuidelineRow
from app.guidelines.models import ProcurementStage
from app.guidelines.schemas import GuidelineBaseOut
from app.kpis.graphql import Kpi
from app.solutions.graphql import resolve_kpis

ProcurementStageEnum = strawberry.enum(ProcurementStage)


@strawberry.experimental.pydantic.type(model=GuidelineBaseOut, all_fields=True)
class ProcurementGuideline:
    kpi_ids: strawberry.Private[list[int]]

    @strawberry.field(description="The KPIs it bears on, in KPI code order.")
    async def kpis(self, info: strawberry.Info[Context, None]) -> list[Kpi]:
        return await resolve_kpis(info, self.kpi_ids)


def to_guideline(guideline: GuidelineRow) -> ProcurementGuideline:
    return ProcurementGuideline.from_pydantic(
        GuidelineBaseOut.from_model(guideline), extra={"kpi_ids": [k.kpi_id for k in guideline.kpis]}
    )


@strawberry.type
class GuidelineQueries:
    @strawberry.field(description="The published guidelines; filters as in GET /api/v1/procurement-guidelines.")
    async def procurement_guidelines(
        self,
        info: strawberry.Info[Context, None],
        stage: ProcurementStage | None = None,
        category: str | None = None,
        kpi: str | None = None,
        language: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[ProcurementGuideline]:
        filters = service.GuidelineFilters(stage=stage, category=category, kpi=kpi, language=language)
        page = page_request(first, after)
        principal = info.context.principal
        result = await info.context.run_db(lambda s: service.list_guidelines(s, principal, filters, page))
        return Connection[ProcurementGuideline].from_page(result, to_guideline)

    @strawberry.field(description="One procurement guideline (the same id as in REST).")
    async def procurement_guideline(self, info: strawberry.Info[Context, None], id: int) -> ProcurementGuideline:
        principal = info.context.principal
        return to_guideline(await info.context.run_db(lambda s: service.get_guideline(s, principal, id)))
