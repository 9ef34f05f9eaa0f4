"""The `citymarket` command: serve, migrate, seed (and the operations commands of later domains).

Starting it must be quick (`citymarket --help`, `citymarket clients create` from scripts): this module imports
only typer at the top. Each command imports what it needs when it runs, and the command groups of other
domains (users, clients, keys, search, indexer, reindex) are loaded only when invoked; `--help` lists them
from the names and one-line helps below. tests/test_cli_imports.py checks that importing this module loads
no web framework, GraphQL or search engine.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from app.core.config import Settings

# name: (module, attribute, one-line help). The attribute is a Typer (a group) or a command function.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "users": ("app.identity.cli", "users_cli", "People and their roles."),
    "clients": (
        "app.identity.cli",
        "clients_cli",
        "OAuth clients: machine clients of an organisation, and public clients.",
    ),
    "keys": ("app.identity.cli", "keys_cli", "The keys that sign access tokens."),
    "search": ("app.search_index.cli", "search_cli", "Search index operations."),
    "indexer": (
        "app.search_index.cli",
        "indexer",
        "Apply the search outbox to the engine until stopped (the server deployment's indexer process).",
    ),
    "reindex": (
        "app.search_index.cli",
        "reindex",
        "Rebuild indexes from the database: into a fresh index, then an atomic swap.",
    ),
    "notify": ("app.notifications.worker", "notify_cli", "Notification tasks: `notify digest` (the daily digest)."),
    "notifier": (
        "app.notifications.worker",
        "notifier",
        "Dispatch events and deliver webhooks until stopped (poll interval: CITYMARKET_NOTIFIER_POLL_SECONDS).",
    ),
}


def load_command(name: str) -> Any:
    """The click command of a lazily loaded group or command, named `name`."""
    module, attribute, _help = LAZY_COMMANDS[name]
    # Every table first, as when this module imported every command: a command's queries configure the
    # mappers, and a relationship to a model its own module never imported would not resolve.
    importlib.import_module("app.models")
    target = getattr(importlib.import_module(module), attribute)
    # Through a parent, as cli.add_typer would: a Typer of one command on its own collapses to that command.
    parent = typer.Typer()
    if isinstance(target, typer.Typer):
        parent.add_typer(target, name=name)
    else:
        parent.command(name)(target)
        parent.command("_")(lambda: None)  # two commands: the parent stays a group
    return typer.main.get_group(parent).commands[name]


class LazyGroup(TyperGroup):
    """Lists the lazy commands from LAZY_COMMANDS (for help) and imports one only to run it."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_COMMANDS:
            _module, _attribute, help_text = LAZY_COMMANDS[cmd_name]
            return typer.core.TyperCommand(cmd_name, help=help_text, short_help=help_text)  # listing only
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in LAZY_COMMANDS:
            return args[0], load_command(args[0]), args[1:]
        return super().resolve_command(ctx, args)


cli = typer.Typer(cls=LazyGroup, help="citymarket: solutions for a city's weakest U4SSC KPIs.", no_args_is_help=True)


def get_settings() -> Settings:
    from app.core.config import get_settings as settings

    return settings()


@cli.command()
def migrate() -> None:
    """Bring the database schema to the latest migration."""
    from app.core.db import make_engine
    from app.core.migrations import upgrade

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
    from app.core.db import make_engine, unit_of_work
    from app.core.migrations import upgrade
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
            from app.search_index.cli import reindex

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
    import uvicorn
    from sqlmodel import Session

    from app.auth.keys import KeyConfigurationError, key_store_for
    from app.auth.state import check_auth_configuration
    from app.core.config import Environment
    from app.core.db import make_engine, unit_of_work
    from app.core.migrations import upgrade
    from app.identity.seed import allow_demo_redirect, seed_identity
    from app.identity.service import ensure_all_organisations
    from seeds.loader import is_seeded, load_all

    settings = _advertise_served_address(host, port)
    os.environ.setdefault("CITYMARKET_GC_FREEZE", "true")  # the workers' settings (app.main: lifespan)
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
    from app.core.config import get_settings as cached_settings

    served = get_settings().served_base_url(host, port)
    if served is not None:
        os.environ["CITYMARKET_PUBLIC_BASE_URL"] = served
        cached_settings.cache_clear()
    return get_settings()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
