"""A delivery survives a kill -9 of the worker between the event and the delivery: the worker process
(`citymarket notifier`) is SIGKILLed while the receiver holds its request; a restarted worker sends it again
once the lease lapses, with the same webhook-id (at least once), and the delivery ends succeeded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook

from app.notifications.models import DeliveryStatus, WebhookDelivery
from tests.notifications.conftest import Env, pump
from tests.notifications.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]


def _worker(env: Env) -> subprocess.Popen[bytes]:
    variables = {
        **os.environ,
        "CITYMARKET_ENV": "test",
        "CITYMARKET_DATABASE_URL": env.db.url,
        "CITYMARKET_DATA_DIR": str(env.db.data_dir),
        "CITYMARKET_WEBHOOK_LEASE_SECONDS": "0.3",
        "CITYMARKET_NOTIFIER_POLL_SECONDS": "0.05",
        "CITYMARKET_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "notifier"], cwd=ROOT, env=variables, stdout=subprocess.DEVNULL
    )


def _delivery(env: Env) -> WebhookDelivery:
    with Session(env.engine) as session:
        return session.exec(select(WebhookDelivery)).one()


def test_a_delivery_survives_sigkill_of_the_worker(env: Env, receiver: Receiver) -> None:
    hook = env.register(receiver.url, ["vendor.verified"])
    receiver.script.append("hang")  # the first attempt is held open until the worker is dead
    env.verify_vendor("a")  # the event is committed; nothing has been sent

    first = _worker(env)
    try:
        receiver.wait_for(1, timeout=30)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    held = _delivery(env)
    assert held.status is DeliveryStatus.pending  # the attempt never got recorded: it is still owed
    assert held.attempts == 0
    assert held.locked_until is not None
    receiver.release.set()

    # The restarted worker (in this process: what matters is that it starts from the database alone) finds
    # the delivery leased to a dead worker, waits out the lease, and sends it again.
    restarted = env.settings.model_copy(update={"webhook_lease_seconds": 0.3})
    pump(env.engine, restarted, lambda: _delivery(env).status is DeliveryStatus.succeeded, timeout=15)
    got = receiver.wait_for(2)
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    for request in got:
        Webhook(hook["secret"]).verify(request.body, request.headers)
    assert _delivery(env).attempts == 1
