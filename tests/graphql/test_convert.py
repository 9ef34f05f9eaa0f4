"""app/graphql/convert.py: the planned conversion of output schemas gives the same GraphQL objects as
Strawberry's own, field for field (nested lists and objects, private fields from `extra`)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select
from strawberry.experimental.pydantic.conversion import convert_pydantic_model_to_strawberry_class

from app.auth.principal import ANONYMOUS
from app.core.config import Settings
from app.core.pagination import PageRequest
from app.graphql.convert import compile_conversions
from app.graphql.schema import build_schema
from app.kpis.graphql import Kpi
from app.kpis.models import Kpi as KpiRow
from app.kpis.schemas import KpiOut
from app.kpis.service import kpi_load_options
from app.solutions import service as solutions
from app.solutions.graphql import KpiImpact, Solution
from app.solutions.schemas import KpiImpactOut


def strawberrys_own(cls: type, model: Any, extra: dict[str, Any] | None = None) -> Any:
    result = convert_pydantic_model_to_strawberry_class(cls, model_instance=model, extra=extra)
    result._original_model = model
    return result


def test_planned_conversions_equal_strawberrys(read_client: TestClient) -> None:
    compile_conversions(build_schema(Settings()))
    assert getattr(Kpi.from_pydantic, "_citymarket_compiled_from_pydantic", False)  # type: ignore[attr-defined]
    engine = read_client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        kpis = session.exec(select(KpiRow).options(*kpi_load_options()).limit(20)).all()
        outs = [KpiOut.from_model(k, k.framework.code) for k in kpis]
        assert any(out.data_points for out in outs)
        for out in outs:
            planned, own = Kpi.from_pydantic(out), strawberrys_own(Kpi, out)  # type: ignore[attr-defined]
            assert planned == own
            assert planned._original_model is out
        page = solutions.list_solutions(session, ANONYMOUS, solutions.SolutionFilters(), PageRequest(limit=20))
        assert page.items
        for solution in page.items:
            assert Solution.from_pydantic(solution) == strawberrys_own(Solution, solution)  # type: ignore[attr-defined]
        impacts = solutions.impacts_by_solution(session, [s.id for s in page.items])
        impact = next(i for found in impacts.values() for i in found)
        out = KpiImpactOut.from_model(impact)
        planned = KpiImpact.from_pydantic(out, extra={"kpi_id": impact.kpi_id})  # type: ignore[attr-defined]
        assert planned == strawberrys_own(KpiImpact, out, {"kpi_id": impact.kpi_id})
        assert planned.kpi_id == impact.kpi_id
