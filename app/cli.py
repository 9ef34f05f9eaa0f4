"""The `citymarket` command: serve, migrate, seed (and the operations commands of later domains)."""

from __future__ import annotations

import json
import os
import time
from typing import Annotated

import typer
import uvicorn
from sqlmodel import Session

from app.core.config import Environment, Settings, get_settings
from app.core.db import make_engine, unit_of_work
from app.core.migrations import upgrade
from app.identity.cli import clients_cli, keys_cli, users_cli
from app.notifications.worker import notifier
from app.search_index.cli import indexer, reindex, search_cli

cli = typer.Typer(help="citymarket: solutions for a city's weakest U4SSC KPIs.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
cli.add_typer(clients_cli, name="clients")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(search_cli, name="search")
cli.command()(indexer)
cli.command()(reindex)
cli.command()(notifier)


@cli.command()
def migrate() -> None:
    """Bring the database schema to the latest migration."""
    settings = get_settings()
    engine = make_engine(settings)
    upgrade(engine)
    typer.echo(f"database at head: {engine.url.render_as_string(hide_password=True)}")


@cli.command()
def seed(
    demo: Annotated[bool, typer.Option(help="Also load the demo catalogue (vendors, solutions, ...).")] = True,
    synthetic: Annotated[bool, typer.Option(help="Generate synthetic data for scale work instead.")] = False,
    cities: Annotated[int, typer.Option(min=0, help="Synthetic cities")] = 10_000,
    solutions: Annotated[int, typer.Option(min=0, help="Synthetic solutions")] = 100_000,
    case_studies: Annotated[int, typer.Option(min=0, help="Synthetic case studies")] = 100_000,
    random_seed: Annotated[int, typer.Option("--seed", help="Random seed of the synthetic generator")] = 42,
    reindex_after: Annotated[
        bool, typer.Option("--reindex/--no-reindex", help="Rebuild the search indexes after --synthetic")
    ] = True,
) -> None:
    """Load the reference data and the demo catalogue (idempotent), or synthetic data with --synthetic."""
    from app.identity.seed import seed_identity
    from seeds.loader import load_all

    settings = get_settings()
    engine = make_engine(settings)
    upgrade(engine)
    started = time.perf_counter()
    with unit_of_work(engine) as session:
        report = load_all(session, demo=demo)
        # Organisations for what was seeded; in dev, the demo accounts (app/identity/seed.py).
        identity = seed_identity(session, settings, demo=demo)
    typer.echo(
        f"reference{' and demo' if demo else ''} data loaded in {time.perf_counter() - started:.1f}s: "
        f"created {json.dumps(report.created, sort_keys=True)}, updated {json.dumps(report.updated, sort_keys=True)}"
    )
    typer.echo(identity.summary())
    if synthetic:
        from seeds.synthetic import generate_synthetic

        result = generate_synthetic(
            engine, cities=cities, solutions=solutions, case_studies=case_studies, seed=random_seed
        )
        typer.echo(f"synthetic data: {result}")
        if reindex_after:
            # Bulk inserts bypass the search outbox on purpose: rebuild the indexes from the database.
            reindex(index=None)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API worker processes")] = 1,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Migrate before serving")] = True,
) -> None:
    """Serve the API. On the embedded default: migrate, seed when the database is empty, serve."""
    from app.auth.keys import KeyConfigurationError, key_store_for
    from app.auth.state import check_auth_configuration
    from app.identity.seed import allow_demo_redirect, seed_identity
    from app.identity.service import ensure_all_organisations
    from seeds.loader import is_seeded, load_all

    settings = _advertise_served_address(host, port)
    try:
        # Refuse default secrets outside dev; create the embedded signing key before the workers start.
        check_auth_configuration(settings)
        key_store_for(settings).ring()
    except KeyConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from exc
    engine = make_engine(settings)
    if migrate_first:
        upgrade(engine)
    if settings.seed_on_start:
        with Session(engine) as session:
            seeded = is_seeded(session)
        if not seeded:
            started = time.perf_counter()
            with unit_of_work(engine) as session:
                load_all(session, demo=True)
                identity = seed_identity(session, settings, demo=True)
            typer.echo(f"seeded the reference and demo data in {time.perf_counter() - started:.1f}s")
            typer.echo(identity.summary())
    with unit_of_work(engine) as session:
        # Every city, vendor and hub has its organisation (idempotent; new rows since the last start).
        ensure_all_organisations(session)
        if settings.env is Environment.dev:
            allow_demo_redirect(session, settings)  # browser sign-in comes back to this port
    engine.dispose()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # our own structured logging (app.core.observability)
        **settings.uvicorn_proxy_options(),  # X-Forwarded-For only from CITYMARKET_TRUSTED_PROXIES
        timeout_graceful_shutdown=20,
    )


def _advertise_served_address(host: str, port: int) -> Settings:
    """In dev, unless CITYMARKET_PUBLIC_BASE_URL is set, the issuer and redirects follow the address served:
    through the environment, so that uvicorn's workers (which build their own settings) see it too."""
    served = get_settings().served_base_url(host, port)
    if served is not None:
        os.environ["CITYMARKET_PUBLIC_BASE_URL"] = served
        get_settings.cache_clear()
    return get_settings()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
