"""Twin-city partners (docs/architecture.md §7): the cities the caller may read, ranked by similar context
and complementary strengths on the snapshot."""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
from pydantic import TypeAdapter
from sqlmodel import Session

from app.auth import permissions
from app.auth.principal import Principal
from app.core.config import MatchingSettings, Settings
from app.identity.models import OrganisationKind, Role
from app.matches.schemas import TwinMatchesOut, TwinMatchOut
from app.matches.service.shared import (
    Bools,
    check_city_visible,
    city_ref,
    city_row_of,
    current_snapshot,
    match_confidence,
)
from app.matches.store import Snapshot
from app.matching import twin_partners
from app.matching.matching import TwinKpi


def readable_cities(snap: Snapshot, principal: Principal) -> Bools:
    """Cities whose values the caller may see in a partner's reasons: public ones, and the private ones it
    may read (all of them for coordinators and admins)."""
    if permissions.can_read_every_city_private(principal):
        return np.ones(snap.city_ids.shape[0], dtype=np.bool_)
    mask = snap.city_public.copy()
    for city_id in principal.target_ids(OrganisationKind.city, Role.city_official):
        row = snap.city_row(city_id)
        if row is not None and permissions.can_read_city_private(principal, city_id):
            mask[row] = True
    return mask


# Twenty partners make some 200 models: their fields go in as plain dicts, validated in one call, in which
# pydantic-core builds every nested model (half the time of one constructor call per model).
_TWIN_ITEMS: Final = TypeAdapter(list[TwinMatchOut])


def _twin_kpis(snap: Snapshot, kpis: tuple[TwinKpi, ...]) -> list[dict[str, Any]]:
    """TwinKpiOut fields."""
    return [
        {
            "kpi": snap.kpi_slug[t.kpi],
            "code": snap.kpi_code[t.kpi],
            "name": snap.kpi_name[t.kpi],
            "weak_achievement": t.weak_achievement,
            "strong_achievement": t.strong_achievement,
            "confidence": t.confidence,
            "help": t.help,
            "contribution": t.contribution,
        }
        for t in kpis
    ]


def _context_value(snap: Snapshot, name: str, row: int) -> str | None:
    if name == "population":
        p = snap.context.population[row]
        return None if not math.isfinite(p) else str(int(p))
    return snap.context_labels[name][row]


def rank_twins(
    snap: Snapshot, city: int, settings: MatchingSettings, *, limit: int, candidates: Bools | None = None
) -> TwinMatchesOut:
    n_city = snap.city_ids.shape[0]
    twinned = np.zeros(n_city, dtype=np.bool_)
    twinned[list(snap.twinned.get(city, ()))] = True
    city_values = {name: _context_value(snap, name, city) for name in ("population", "region", "climate", "income")}
    result = twin_partners(
        city,
        snap.cities,
        snap.context,
        snap.weights,
        already_twinned=twinned,
        candidates=candidates,
        tie_keys=snap.city_tie,
        top_k=limit,
    )
    items = []
    for rank, m in enumerate(result.top, start=1):
        p = m.index
        comp, shared, ctx = m.complementarity, m.shared, m.context
        items.append(
            {  # TwinMatchOut fields
                "rank": rank,
                "city": {
                    "id": int(snap.city_ids[p]),
                    "slug": snap.city_slug[p],
                    "name": snap.city_name[p],
                    "country_code": snap.city_country[p],
                },
                "score": m.score,
                "scored_kpis": int(snap.n_scored[p]),
                "complementarity": {
                    "score": comp.score,
                    "contribution": comp.contribution,
                    "partner_helps_city": comp.partner_helps_city,
                    "city_helps_partner": comp.city_helps_partner,
                    "balance": comp.balance,
                    "partner_helps_city_kpis": _twin_kpis(snap, comp.partner_helps_city_kpis),
                    "city_helps_partner_kpis": _twin_kpis(snap, comp.city_helps_partner_kpis),
                },
                "shared_challenges": {
                    "score": shared.score,
                    "contribution": shared.contribution,
                    "weak_in_either": shared.weak_in_either,
                    "categories": [
                        {
                            "dimension": snap.categories[c.category][0],
                            "subdimension": snap.categories[c.category][1],
                            "category": snap.categories[c.category][2],
                            "city_achievement": c.city_achievement,
                            "partner_achievement": c.partner_achievement,
                            "contribution": c.contribution,
                        }
                        for c in shared.categories
                    ],
                },
                "context": {
                    "score": ctx.score,
                    "contribution": ctx.contribution,
                    "parts": [
                        {
                            "name": part.name,
                            "similarity": part.similarity,
                            "weight": part.weight,
                            "contribution": part.contribution,
                            "city_value": city_values[part.name],
                            "partner_value": _context_value(snap, part.name, p),
                        }
                        for part in ctx.parts
                    ],
                },
            }
        )
    return TwinMatchesOut(
        city=city_ref(snap, city),
        method_version=result.method_version,
        eligible=result.city_eligible,
        min_reported_kpis=snap.weights.min_reported_kpis,
        candidates=int(np.count_nonzero(result.eligible)),
        confidence=match_confidence(snap, city, settings),
        items=_TWIN_ITEMS.validate_python(items),
    )


def twin_matches(
    session: Session, principal: Principal, settings: Settings, city_id: int, *, limit: int = 20
) -> TwinMatchesOut:
    """Partner cities: complementary strengths both ways, shared weak categories, similar context."""
    check_city_visible(session, principal, city_id)
    snap = current_snapshot(session, settings, city_id=city_id)
    row = city_row_of(snap, city_id)
    return rank_twins(snap, row, settings.matching, limit=limit, candidates=readable_cities(snap, principal))
