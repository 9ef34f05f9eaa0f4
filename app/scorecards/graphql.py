"""GraphQL face of scorecards: the same service and output schemas as REST."""

from __future__ import annotations

import strawberry

from app.graphql.context import Context
from app.matches.graphql import MatchCity
from app.scorecards import service
from app.scorecards.schemas import (
    BenchmarkOut,
    DataPointScoreOut,
    KpiScoreOut,
    MissingOut,
    RollUpOut,
    ScorecardOut,
)
from app.scorecards.wheel import render_wheel


@strawberry.experimental.pydantic.type(model=BenchmarkOut, all_fields=True)
class ScorecardBenchmark:
    pass


@strawberry.experimental.pydantic.type(model=DataPointScoreOut, all_fields=True)
class DataPointScore:
    pass


@strawberry.experimental.pydantic.type(model=KpiScoreOut, all_fields=True)
class KpiScore:
    pass


@strawberry.experimental.pydantic.type(model=RollUpOut, all_fields=True)
class RollUp:
    pass


@strawberry.experimental.pydantic.type(model=MissingOut, all_fields=True)
class ScorecardMissing:
    pass


@strawberry.experimental.pydantic.type(model=ScorecardOut, all_fields=True)
class Scorecard:
    city: MatchCity

    @strawberry.field(
        description="The scorecard as a U4SSC wheel: the SVG document itself, the same bytes as "
        "GET /api/v1/cities/{id}/scorecard/wheel.svg (rendered only when asked for)."
    )
    def wheel_svg(self) -> str:
        # Back to the output schema the renderer takes: the same function, hence the same bytes, as REST.
        return render_wheel(self.to_pydantic())


@strawberry.type
class ScorecardQueries:
    @strawberry.field(
        description="A city's U4SSC scorecard (as GET /api/v1/cities/{id}/scorecard); year: the latest value "
        "of each data point up to that year (default: the latest)."
    )
    async def scorecard(self, info: strawberry.Info[Context, None], city_id: int, year: int | None = None) -> Scorecard:
        principal, settings = info.context.principal, info.context.settings
        out = await info.context.run_db(lambda s: service.city_scorecard(s, principal, settings, city_id, year))
        return Scorecard.from_pydantic(out)
