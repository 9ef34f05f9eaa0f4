"""What every `citymarket` command that works on the service's data shares: finding that data."""

from __future__ import annotations

import typer
from sqlalchemy.engine import Engine

from app.core.config import Settings, get_settings
from app.core.db import DatabaseMissing, existing_engine


def service_engine(settings: Settings | None = None) -> Engine:
    """The service's database, as `serve` finds it (the same settings); when it is not there, one line that
    says where it looked and how to point elsewhere, and exit code 1: never an empty database left behind."""
    try:
        return existing_engine(settings or get_settings())
    except DatabaseMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc


def require_service_data(settings: Settings) -> None:
    """For commands on files of the data dir (the signing keys): it must be the service's, with its database."""
    service_engine(settings).dispose()
