"""`citymarket notifier`: the webhook delivery worker as a process of its own (server mode; any number of them).

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
from app.notifications.delivery import Notifier

log = structlog.get_logger(__name__)


def notifier(
    once: Annotated[bool, typer.Option(help="Dispatch and send what is due, then exit")] = False,
) -> None:
    """Dispatch events and deliver webhooks until stopped (poll interval: CITYMARKET_NOTIFIER_POLL_SECONDS)."""
    settings = get_settings()
    engine = service_engine(settings)
    worker = Notifier(engine, settings)
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
