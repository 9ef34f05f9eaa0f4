"""Reading twinnings (the twin-city programme's pairings; public, like the programme itself)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, or_, select

from app.core.errors import NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.solutions import service as solutions
from app.twinnings.models import Twinning, TwinningKpi, TwinningStatus
from app.twinnings.schemas import TwinningBaseOut, TwinningOut


@dataclass(frozen=True)
class TwinningFilters:
    city: int | None = None
    status: TwinningStatus | None = None
    kpi: str | None = None


def list_twinnings(session: Session, filters: TwinningFilters, page: PageRequest) -> PageResult[Twinning]:
    statement = select(Twinning).options(selectinload(Twinning.focus_kpis))  # type: ignore[arg-type]
    if filters.city is not None:
        statement = statement.where(
            or_(col(Twinning.city_a_id) == filters.city, col(Twinning.city_b_id) == filters.city)
        )
    if filters.status:
        statement = statement.where(col(Twinning.status) == filters.status)
    if filters.kpi:
        on_kpi = select(TwinningKpi.twinning_id).where(col(TwinningKpi.kpi_id) == solutions.kpi_id_for(filters.kpi))
        statement = statement.where(col(Twinning.id).in_(on_kpi))
    # Newest first. Ids grow with insertion; a datetime would not survive the cursor (see app.core.pagination).
    keys = [SortKey(Twinning.id, descending=True)]  # type: ignore[arg-type]
    return paginate(session, statement, keys, page)


def get_twinning(session: Session, twinning_id: int) -> Twinning:
    statement = select(Twinning).where(Twinning.id == twinning_id).options(selectinload(Twinning.focus_kpis))  # type: ignore[arg-type]
    twinning = session.exec(statement).first()
    if twinning is None:
        raise NotFound(f"No twinning with id {twinning_id}. GET /api/v1/twinnings lists them.")
    return twinning


def to_out(session: Session, twinnings: Sequence[Twinning]) -> list[TwinningOut]:
    """Twinnings with their cities and focus KPIs (one statement each for all of them)."""
    cities = solutions.city_refs(session, {c for t in twinnings for c in (t.city_a_id, t.city_b_id)})
    kpis = solutions.kpi_refs(session, {k.kpi_id for t in twinnings for k in t.focus_kpis})
    return [
        TwinningOut(
            **TwinningBaseOut.from_model(t).model_dump(),
            city_a=cities[t.city_a_id],
            city_b=cities[t.city_b_id],
            focus_kpis=sorted((kpis[k.kpi_id] for k in t.focus_kpis), key=lambda r: r.code),
        )
        for t in twinnings
    ]
