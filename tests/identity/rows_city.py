"""Permission-matrix rows for the city-side write endpoints (cities, KPI values, twinnings, challenges)."""

from __future__ import annotations

from app.identity.models import Role
from tests.identity.matrix import Call, Row, Scenario, Which, ab

CITY_ROWS: list[Row] = []

__all__ = ["CITY_ROWS", "Call", "Role", "Row", "Scenario", "Which", "ab"]
