"""Saved match runs: the inputs and the ranking, frozen for a procurement file."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field, enum_column


class MatchKind(StrEnum):
    solutions = "solutions"  # solutions for a city
    twins = "twins"  # twin-city partners for a city


class MatchRun(SQLModel, table=True):
    """Everything needed to show the same ranking later, whatever changed since: the city's values,
    the weights, the method's version, and the ranking with its reasons."""

    __tablename__ = "match_run"

    id: int | None = Field(default=None, primary_key=True)
    city_id: int = Field(foreign_key="city.id", index=True, ondelete="CASCADE")
    kind: MatchKind = Field(sa_type=enum_column(MatchKind, "match_kind"))
    method_version: str = Field(max_length=32)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    weights: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    inputs: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    ranking: list[Any] = Field(default_factory=list, sa_type=sa.JSON)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()
