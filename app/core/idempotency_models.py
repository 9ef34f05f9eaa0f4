"""Stored answers to creates that carried an Idempotency-Key."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("subject", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    # Keys are per caller: two clients may pick the same key without seeing each other's answers.
    subject: str = Field(max_length=200)
    key: str = Field(max_length=200)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: Any = Field(default=None, sa_type=sa.JSON)
    location: str = Field(default="", max_length=500)
    created_at: datetime = created_at_field()
