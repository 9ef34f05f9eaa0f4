"""The dashboard in a real browser: one live uvicorn server (a thread of this process, on a port in
8451-8499) over a copy of the seeded database with the demo accounts and a built search index, and one
Chromium (Debian's, driven by Playwright) for the whole module.

axe-core (tests/dashboard/vendor/axe.min.js, MPL-2.0, see vendor/README.md) is injected into each page;
the contexts bypass the pages' CSP for that script only (the pages themselves allow no script).
Screenshots: set CITYMARKET_SCREENSHOTS=<dir> and the page tests save one per page and width."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from app.core.db import unit_of_work
from app.identity.seed import seed_demo_accounts
from app.main import create_app
from app.search_index.indexer import rebuild
from search import create_engine
from tests.conftest import DatabaseFactory, TestDatabase

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CITYMARKET_CHROMIUM", "/usr/bin/chromium")
PORTS = range(8451, 8500)
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


def _free_port() -> int:
    # Each xdist worker starts at a port of its own, so that two workers never race for the same one.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = (int(worker) * 7 if worker.isdigit() else 0) % len(PORTS)
    for port in [*PORTS[start:], *PORTS[:start]]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@dataclass
class LiveServer:
    base_url: str
    engine: Engine

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="module")
def live_server(databases: DatabaseFactory, seeded_template: TestDatabase) -> Iterator[LiveServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)")
    db = databases.copy(seeded_template, keep=True)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = db.settings(public_base_url=base_url)
    engine = db.engine()
    with unit_of_work(engine) as session:
        seed_demo_accounts(session, settings)  # the README's demo users (dev only elsewhere)
    search = create_engine("tantivy", data_dir=db.data_dir / "search")
    rebuild(engine, search)
    app = create_app(settings, engine=engine, search=search)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="dashboard-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    yield LiveServer(base_url, engine)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()
    if db.data_dir.exists():
        shutil.rmtree(db.data_dir / "search", ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def context_at(browser: Any) -> Iterator[Any]:
    """new_context(width) -> a fresh browser context (own cookies) that width wide."""
    made: list[Any] = []

    def make(width: int = 1280) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is (WCAG 2.x A and AA rules)."""
    page.add_script_tag(content=AXE)
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return found


def horizontal_overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scrolling)."""
    overflow: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return overflow


def screenshot(page: Any, name: str) -> None:
    target = os.environ.get("CITYMARKET_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)
