"""Permission-matrix rows for the catalogue (vendors, solutions, case studies, guidelines, hubs) write endpoints."""

from __future__ import annotations

from app.identity.models import Role
from tests.identity.matrix import Call, Row, Scenario, Which, ab

CATALOGUE_ROWS: list[Row] = []

__all__ = ["CATALOGUE_ROWS", "Call", "Role", "Row", "Scenario", "Which", "ab"]
