"""The baseline for bench/rest.py: a bare Starlette app doing the same primary-key read and the same
50-row list with the same driver and connection pool, serialising rows straight to JSON."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.core.config import get_settings
from app.core.db import make_engine

engine = make_engine(get_settings())
solution = sa.table(
    "solution",
    sa.column("id"),
    sa.column("title"),
    sa.column("summary"),
    sa.column("description"),
    sa.column("status"),
    sa.column("vendor_id"),
    sa.column("version"),
)


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def one(request: Request) -> JSONResponse:
    with engine.connect() as connection:
        row = connection.execute(sa.select(solution).where(solution.c.id == int(request.path_params["id"]))).first()
    return JSONResponse(_row(row) if row else {}, status_code=200 if row else 404)


def many(request: Request) -> JSONResponse:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(solution).where(solution.c.status == "published").order_by(solution.c.id).limit(50)
        ).all()
    return JSONResponse({"items": [_row(r) for r in rows]})


def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/solutions/{id:int}", one), Route("/solutions", many), Route("/healthz", healthz)])
