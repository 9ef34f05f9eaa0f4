"""The ASGI application: REST under /api/v1, GraphQL at /graphql, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from strawberry.fastapi import GraphQLRouter

from app.cities.router import router as cities_router
from app.core.config import Environment, Settings, get_settings
from app.core.db import make_engine
from app.core.errors import ServiceUnavailable, install_error_handlers, problem_response
from app.core.observability import ObservabilityMiddleware, configure_logging, metrics_response
from app.graphql.context import Context
from app.graphql.schema import build_schema
from app.kpis.router import router as kpis_router

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    engine = engine or make_engine(settings)
    production = settings.env is Environment.production

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("citymarket starting", env=settings.env.value, database=engine.url.get_backend_name())
        yield
        # Graceful shutdown: uvicorn has drained in-flight requests; release the pool last.
        engine.dispose()
        log.info("citymarket stopped")

    app = FastAPI(
        title="citymarket",
        version="0.1.0",
        summary="Find, compare and co-create solutions for a city's weakest U4SSC sustainability KPIs.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.add_middleware(ObservabilityMiddleware)
    install_error_handlers(app)

    app.include_router(kpis_router)
    app.include_router(cities_router)

    async def graphql_context() -> Context:
        return Context(engine=engine, settings=settings)

    graphql = GraphQLRouter(
        build_schema(production=production),
        context_getter=graphql_context,
        graphql_ide=None if production else "graphiql",
        allow_queries_via_get=False,
    )
    app.include_router(graphql, prefix="/graphql", include_in_schema=False)

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="The database (and search) can be reached")
    def readyz(request: Request) -> JSONResponse:
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            return problem_response(
                ServiceUnavailable(f"The database is unreachable: {type(exc).__name__}."), request
            )
        return JSONResponse({"status": "ready", "database": "ok"})

    app.add_route("/metrics", metrics_response, include_in_schema=False)
    return app
