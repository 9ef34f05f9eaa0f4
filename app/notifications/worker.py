"""`citymarket notifier`: the webhook delivery worker as a process of its own (server mode; any number of them),
and `citymarket notify digest`, the daily digest on demand.

`python -m app.cli notifier` is the same (the CLI loads every table first). SIGTERM and SIGINT finish the
round in hand; SIGKILL loses nothing either (the state is in the database, app/notifications/delivery.py).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import structlog
import typer

from app.core.cli_support import service_engine
from app.core.config import get_settings
from app.core.models import utcnow
from app.notifications.delivery import Notifier
from app.notifications.digest import digest_round
from app.search_index.engine import make_search_engine

log = structlog.get_logger(__name__)


def notifier(
    once: Annotated[bool, typer.Option(help="Dispatch and send what is due, then exit")] = False,
) -> None:
    """Dispatch events and deliver webhooks until stopped (poll interval: CITYMARKET_NOTIFIER_POLL_SECONDS)."""
    settings = get_settings()
    engine = service_engine(settings)
    worker = Notifier(engine, settings, search=make_search_engine(settings))  # saved searches run against it
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("notifier started", database=engine.url.get_backend_name())
    try:
        if once:
            while worker.run_once():
                pass
        else:
            worker.run(stop)
    finally:
        worker.close()
        engine.dispose()


notify_cli = typer.Typer(help="Notification tasks: `notify digest` (the daily digest).", no_args_is_help=True)


@notify_cli.command("digest")
def digest() -> None:
    """Enqueue today's daily digest for everyone who has it on (idempotent: a second run today sends nothing);
    the notifier sends the mail."""
    settings = get_settings()
    engine = service_engine(settings)
    try:
        enqueued = digest_round(engine, settings, utcnow())
    finally:
        engine.dispose()
    typer.echo(f"digest: {enqueued} mail(s) enqueued")
