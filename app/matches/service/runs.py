"""Saved match runs (docs/architecture.md §7): a match computed and stored with the values and weights it
used, so that a city can see later what it was shown and why; listing and reading them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth import permissions
from app.auth.principal import Principal
from app.cities.models import City
from app.core.config import MatchingSettings, Settings
from app.core.errors import InvalidInput, NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.matches.models import MatchKind, MatchRun
from app.matches.schemas import MatchRunIn, MatchRunOut, MatchRunSummaryOut
from app.matches.service.shared import (
    city_ref,
    city_row_of,
    current_snapshot,
    match_confidence,
    missing_kpis,
    optional_float,
    visible_city,
)
from app.matches.service.solutions_for_city import match_scope, rank_solutions
from app.matches.service.twins import rank_twins, readable_cities
from app.matches.store import Snapshot
from app.matching import QUALITY_LEVELS, MatchingWeights


def _values_used(snap: Snapshot, row: int) -> dict[str, Any]:
    """The city's values as the run used them: every data point with a value, and every KPI's gap."""
    values = []
    for d in np.flatnonzero(np.isfinite(snap.value[row])).tolist():
        k = int(snap.dp_kpi[d])
        q = int(snap.quality[row, d])
        a = snap.dp_achievement[row, d]
        values.append(
            {
                "kpi": snap.kpi_slug[k],
                "code": snap.kpi_code[k],
                "data_point": snap.dp_key[d],
                "value": float(snap.value[row, d]),
                "year": int(snap.year[row, d]),
                "data_quality": QUALITY_LEVELS[q] if q >= 0 else None,
                "verified": bool(snap.verified[row, d]),
                "benchmark": optional_float(snap.dp_benchmark[d]),
                "achievement": optional_float(a),
            }
        )
    kpis = [
        {
            "kpi": snap.kpi_slug[k],
            "code": snap.kpi_code[k],
            "gap": float(snap.gaps[row, k]),
            "confidence": float(snap.confidence[row, k]),
        }
        for k in np.flatnonzero(np.isfinite(snap.gaps[row])).tolist()
    ]
    return {"values": values, "kpis": kpis}


def _weights_dict(weights: MatchingWeights, settings: MatchingSettings) -> dict[str, Any]:
    return {
        **asdict(weights),
        "deployment_evidence": settings.deployment_evidence,
        "case_study_evidence": settings.case_study_evidence,
        "case_study_outcomes_evidence": settings.case_study_outcomes_evidence,
    }


def _refuse_runs(session: Session, principal: Principal, city_id: int) -> City:
    city = visible_city(session, principal, city_id)
    permissions.require(
        permissions.can_run_matches(principal, city_id),
        f"Only the officials of city {city_id}, programme coordinators and admins may save and read its "
        "match runs (they keep the city's values); your token needs the private:read scope.",
    )
    return city


def create_match_run(
    session: Session, principal: Principal, settings: Settings, city_id: int, body: MatchRunIn, request_id: str = ""
) -> MatchRunOut:
    _refuse_runs(session, principal, city_id)
    if body.kind is MatchKind.twins:
        extra = [name for name in ("scope", "hub", "category", "language") if getattr(body, name) is not None]
        if extra:
            raise InvalidInput(
                f"{', '.join(extra)} apply to kind=solutions only.",
                errors=[{"field": f"body.{n}", "message": "not for kind=twins", "type": "extra"} for n in extra],
            )
    snap = current_snapshot(session, settings, city_id=city_id, force=True)
    row = city_row_of(snap, city_id)
    ranking: list[dict[str, Any]]
    if body.kind is MatchKind.solutions:
        scope = match_scope(body.scope, body.hub)
        solutions = rank_solutions(
            snap,
            row,
            settings.matching,
            limit=body.limit,
            scope=scope,
            hub=body.hub,
            category=body.category,
            language=body.language,
        )
        parameters: dict[str, Any] = {
            "limit": body.limit,
            "scope": scope.value,
            "hub": body.hub,
            "hubs": solutions.hubs,
            "category": body.category,
            "language": body.language,
            "candidates": solutions.candidates,
        }
        ranking = [item.model_dump(mode="json") for item in solutions.items]
        missing = [m.model_dump(mode="json") for m in solutions.missing_kpis]
    else:
        twins = rank_twins(snap, row, settings.matching, limit=body.limit, candidates=readable_cities(snap, principal))
        parameters = {
            "limit": body.limit,
            "eligible": twins.eligible,
            "min_reported_kpis": twins.min_reported_kpis,
            "candidates": twins.candidates,
        }
        ranking = [item.model_dump(mode="json") for item in twins.items]
        missing = [m.model_dump(mode="json") for m in missing_kpis(snap, row)]
    inputs = {
        "city": city_ref(snap, row).model_dump(mode="json"),
        **_values_used(snap, row),
        "confidence": match_confidence(snap, row, settings.matching).model_dump(mode="json"),
        "missing_kpis": missing,
    }
    run = MatchRun(
        city_id=city_id,
        kind=body.kind,
        method_version=snap.weights.method_version,
        parameters=parameters,
        weights=_weights_dict(snap.weights, settings.matching),
        inputs=inputs,
        ranking=ranking,
        created_by_user_id=principal.user_id,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        principal,
        "match_run.create",
        "match_run",
        run.id or 0,
        {"city_id": city_id, "kind": body.kind.value, "parameters": parameters, "results": len(ranking)},
        request_id=request_id,
    )
    return run_out(run)


def run_summary(run: MatchRun) -> MatchRunSummaryOut:
    return MatchRunSummaryOut(
        id=run.id or 0,
        city_id=run.city_id,
        kind=run.kind,
        method_version=run.method_version,
        parameters=dict(run.parameters),
        results=len(run.ranking),
        created_by_user_id=run.created_by_user_id,
        created_at=run.created_at,
    )


def run_out(run: MatchRun) -> MatchRunOut:
    return MatchRunOut(
        **run_summary(run).model_dump(),
        weights=dict(run.weights),
        inputs=dict(run.inputs),
        ranking=list(run.ranking),
    )


def get_match_run(session: Session, principal: Principal, city_id: int, run_id: int) -> MatchRunOut:
    _refuse_runs(session, principal, city_id)
    run = session.get(MatchRun, run_id)
    if run is None or run.city_id != city_id:
        raise NotFound(f"No match run {run_id} for city {city_id}. GET /api/v1/cities/{city_id}/match-runs lists them.")
    return run_out(run)


def list_match_runs(
    session: Session, principal: Principal, city_id: int, page: PageRequest, kind: MatchKind | None = None
) -> PageResult[MatchRun]:
    _refuse_runs(session, principal, city_id)
    statement = select(MatchRun).where(col(MatchRun.city_id) == city_id)
    if kind is not None:
        statement = statement.where(col(MatchRun.kind) == kind)
    return paginate(session, statement, [SortKey(MatchRun.id, descending=True)], page)  # type: ignore[arg-type]
