"""The ASGI application: REST under /api/v1, GraphQL at /graphql, health and metrics."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from app.accounts.router import router as accounts_router
from app.audit.router import router as audit_router
from app.auth.deps import PrincipalDep
from app.auth.router import router as auth_router
from app.auth.state import build_auth_state
from app.case_studies.router import router as case_studies_router
from app.challenges.router import router as challenges_router
from app.cities.router import router as cities_router
from app.core.config import Settings, get_settings
from app.core.db import make_engine
from app.core.deps import plain_parameters, reads_only
from app.core.errors import ServiceUnavailable, install_error_handlers, problem_response
from app.core.headers import SecurityHeadersMiddleware
from app.core.observability import ObservabilityMiddleware, configure_logging, metrics_endpoint
from app.core.openapi import install_openapi
from app.core.routing import CitymarketApp, install_routers
from app.dashboard.router import STATIC_DIR
from app.dashboard.router import router as dashboard_router
from app.graphql.context import Context
from app.graphql.router import graphql_router
from app.guidelines.router import router as guidelines_router
from app.hubs.router import router as hubs_router
from app.kpis.router import router as kpis_router
from app.matches.router import router as matches_router
from app.matches.store import close_store
from app.moderation.router import router as moderation_router
from app.notifications.delivery import BackgroundNotifier
from app.notifications.openapi import install_webhooks
from app.notifications.router import (
    alerts_router,
    feed_router,
    invitations_router,
    preferences_router,
    reset_router,
)
from app.notifications.router import router as webhooks_router
from app.open_data.router import router as open_data_router
from app.scorecards.router import router as scorecards_router
from app.search_index.engine import make_search_engine
from app.search_index.indexer import BackgroundIndexer, search_readiness
from app.search_index.router import router as search_router
from app.search_index.thesaurus_router import router as thesaurus_router
from app.solutions.router import router as solutions_router
from app.translations.router import router as translations_router
from app.twinnings.router import router as twinnings_router
from app.vendors.router import router as vendors_router
from search import SearchEngine

log = structlog.get_logger(__name__)


def freeze_start_up_objects() -> None:
    """What start-up made lives as long as the process: out of the cyclic collector's walks (gc.freeze),
    which then run less often (settings.gc_freeze)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, search: SearchEngine | None = None
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    engine = engine or make_engine(settings)
    search = search or make_search_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("citymarket starting", env=settings.env.value, database=engine.url.get_backend_name())
        if settings.gc_freeze:
            freeze_start_up_objects()
        # Embedded mode applies the search outbox in this process; server mode runs `citymarket indexer`.
        indexer = (
            BackgroundIndexer(engine, search, settings.indexer_poll_seconds) if settings.indexer_in_process else None
        )
        if indexer is not None:
            indexer.start()
        # Webhook deliveries likewise: in this process in embedded mode, `citymarket notifier` in server mode.
        notifier = BackgroundNotifier(engine, settings, search) if settings.notifier_runs_in_process else None
        if notifier is not None:
            notifier.start()
        yield
        # Graceful shutdown: uvicorn has drained in-flight requests; stop the indexer, release the pool last.
        if indexer is not None:
            indexer.stop()
        if notifier is not None:
            notifier.stop()
        search.close()
        close_store(engine)  # the matching store's background check
        engine.dispose()
        log.info("citymarket stopped")

    app = CitymarketApp(
        title="citymarket",
        version="0.1.0",
        summary="Find, compare and co-create solutions for a city's weakest U4SSC sustainability KPIs.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        # Query and path parameters are refused with control characters, as bodies are (app.core.text); the
        # domain routers carry the same dependency themselves (app.core.routing.api_router).
        dependencies=[Depends(plain_parameters)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.search = search
    # Signing keys, token verification, failure limits (refuses default secrets outside dev and test).
    app.state.auth = build_auth_state(settings)
    app.add_middleware(SecurityHeadersMiddleware)  # nosniff, Vary: Authorization, no-store when authenticated
    app.add_middleware(ObservabilityMiddleware)
    install_error_handlers(app)

    async def graphql_context(principal: PrincipalDep) -> Context:
        # The same dependency as REST's: the bearer token becomes the Principal the resolvers pass on.
        return Context(engine=engine, settings=settings, principal=principal)

    # First: requests are matched against the routers in order, and /graphql was last (8% of a GraphQL
    # read went to trying every REST router first). Its path overlaps none of theirs.
    # Limits, batching, introspection and GraphiQL: app/graphql/router.py and app/graphql/limits.py.
    graphql = graphql_router(settings, context_getter=graphql_context)
    app.include_router(graphql, prefix="/graphql", include_in_schema=False, dependencies=[Depends(reads_only)])

    # The domain routers' own route objects, built once per process (app.core.routing explains why).
    install_routers(
        app,
        (
            auth_router,
            kpis_router,
            search_router,
            thesaurus_router,
            cities_router,
            vendors_router,
            solutions_router,
            case_studies_router,
            guidelines_router,
            hubs_router,
            twinnings_router,
            challenges_router,
            translations_router,
            scorecards_router,
            matches_router,
            audit_router,
            webhooks_router,
            feed_router,
            preferences_router,
            alerts_router,
            reset_router,
            invitations_router,
            accounts_router,
            open_data_router,
            moderation_router,
        ),
    )

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    caught_up: list[bool] = []  # non-empty once /readyz has seen the index consistent

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The database (and search) can be reached",
        responses={503: {"description": "The database is unreachable, or (embedded mode) the index is catching up"}},
    )
    def readyz(request: Request) -> JSONResponse:
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            return problem_response(ServiceUnavailable(f"The database is unreachable: {type(exc).__name__}."), request)
        # Search being down degrades search only (writes go on, the outbox keeps every change): report it,
        # but stay ready so that load balancers keep sending writes here.
        search_state = search_readiness(engine, search)
        if search_state["healthy"] and not caught_up and settings.indexer_in_process:
            # Embedded mode, starting: this process's indexer has not yet caught up with the database once
            # (a fresh data dir's seed, or writes made while it was stopped). Not ready until it has; after
            # that, a backlog is ordinary indexing lag and the answer stays "ready".
            if not search_state["consistent"]:
                problem = ServiceUnavailable(
                    f"Starting: the search index is catching up with the database "
                    f"({search_state['backlog']} changes to apply).",
                    extra={"search": search_state},
                    headers={"Retry-After": "1"},
                )
                return problem_response(problem, request)
            caught_up.append(True)
        status = "ready" if search_state["healthy"] else "degraded"
        return JSONResponse({"status": status, "database": "ok", "search": search_state})

    app.add_route("/metrics", metrics_endpoint(settings), include_in_schema=False)
    # The dashboard (app/dashboard): server-rendered pages at / over the same services, and its stylesheet.
    install_routers(app, (dashboard_router,))
    app.mount("/static/dashboard", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    install_webhooks(app)  # the event catalogue, in the document's `webhooks` section
    install_openapi(app)
    return app
