"""The plan's reads cost the same number of statements whatever the plan holds: activities (REST page and
GraphQL connection, KPIs included) and progress (every aimed KPI, both cities) are no N+1."""

from __future__ import annotations

from tests.conftest import StatementCounter
from tests.twinnings_plan.conftest import KPI, Plan

QUERY = "query ($id: Int!) { twinning(id: $id) { activities(first: 50) { edges { node { id kpis { slug } } } } } }"
AIMS = (KPI, "EC-ICT-WS-1C", "EN-EN-AQ-1C", "EC-I-T-5A")


def _counts(plan: Plan, twinning: int, count_statements: type[StatementCounter]) -> tuple[int, int, int]:
    with count_statements(plan.engine) as rest:
        assert plan.get(f"/api/v1/twinnings/{twinning}/activities", limit=50).status_code == 200
    with count_statements(plan.engine) as graph:
        assert "errors" not in plan.post(QUERY, None, id=twinning)
    with count_statements(plan.engine) as progress:
        assert plan.get(f"/api/v1/twinnings/{twinning}/progress").status_code == 200
    return rest.count, graph.count, progress.count


def test_the_plan_reads_do_not_grow_with_the_plan(plan: Plan, count_statements: type[StatementCounter]) -> None:
    twinning = plan.twinning(plan.world.city["a"], plan.world.city["b"])
    plan.activity(twinning, kpis=[KPI])
    small = _counts(plan, twinning, count_statements)
    for index, kpi in enumerate(AIMS):
        plan.activity(twinning, title=f"Activity {index}", kpis=[*list(AIMS[: index + 1]), kpi])
    large = _counts(plan, twinning, count_statements)
    assert plan.get(f"/api/v1/twinnings/{twinning}/activities").json()["total"] == 1 + len(AIMS)
    assert large == small
