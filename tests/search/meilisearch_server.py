"""The Meilisearch test server: one per test run, shared by every xdist worker.

The binary comes from `.ci/meilisearch.sh` (or CITYMARKET_MEILISEARCH_BIN). The first worker that needs the
server starts it under a file lock in the run's shared temporary directory and writes its address there;
the others read it. The server outlives that worker (its own session), and the process that started the run
stops it in `pytest_sessionfinish` (tests/conftest.py). Tests keep apart by index prefix.

When the server cannot be had or does not start, the tests that need it are skipped with the reason, unless
CITYMARKET_REQUIRE_MEILISEARCH=1, which turns that into a failure (CI sets it).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / ".ci" / "meilisearch.sh"
STARTUP_TIMEOUT_S = 30.0
STATE_FILE = "meilisearch-server.json"


@dataclass(frozen=True)
class MeiliServer:
    url: str
    api_key: str
    pid: int = 0


def _unavailable(reason: str) -> None:
    if os.environ.get("CITYMARKET_REQUIRE_MEILISEARCH") == "1":
        pytest.fail(f"Meilisearch is required (CITYMARKET_REQUIRE_MEILISEARCH=1) but {reason}", pytrace=False)
    pytest.skip(f"Meilisearch test server not available: {reason}")


def _binary() -> Path:
    override = os.environ.get("CITYMARKET_MEILISEARCH_BIN")
    if override:
        return Path(override)
    if shutil.which("bash") is None:
        _unavailable("bash is missing, cannot run .ci/meilisearch.sh")
    try:
        done = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f".ci/meilisearch.sh failed to run: {exc}")
    if done.returncode != 0 or not done.stdout.strip():
        _unavailable(f".ci/meilisearch.sh exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory of the whole run: under xdist each worker's basetemp is a child of it."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_server(tmp_path_factory: pytest.TempPathFactory) -> MeiliServer:
    root = run_directory(tmp_path_factory)
    state = root / STATE_FILE
    with FileLock(str(root / "meilisearch.lock")):
        if state.exists():
            server = MeiliServer(**json.loads(state.read_text()))
            if _healthy(server.url):
                return server
            _unavailable(f"the run's server at {server.url} stopped answering")
        server = _start(root / "meilisearch")
        state.write_text(json.dumps(asdict(server)))
        return server


def _start(workdir: Path) -> MeiliServer:
    binary = _binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        _unavailable(f"{binary} is not an executable file")
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    api_key = secrets.token_hex(24)  # hex: a key starting with "-" would read as a flag
    log_path = workdir / "meilisearch.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                str(binary),
                "--http-addr", f"127.0.0.1:{port}",
                "--master-key", api_key,
                "--db-path", str(workdir / "data.ms"),
                "--dump-dir", str(workdir / "dumps"),
                "--snapshot-dir", str(workdir / "snapshots"),
                "--env", "development",
                "--no-analytics",
                "--log-level", "WARN",
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the worker that started it; stopped by the run's controller
        )  # fmt: skip
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not _healthy(url):
        if process.poll() is not None:
            _unavailable(f"it exited with {process.returncode}: {log_path.read_text(errors='replace')[-800:]}")
        if time.monotonic() > deadline:
            process.kill()
            _unavailable(f"/health did not answer within {STARTUP_TIMEOUT_S:.0f}s")
        time.sleep(0.05)
    return MeiliServer(url, api_key, process.pid)


def stop_shared_server(config: pytest.Config) -> None:
    """Stop the run's server, if a worker started one (called once, by the process that started the run)."""
    factory: pytest.TempPathFactory | None = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return
    state = factory.getbasetemp() / STATE_FILE
    if not state.exists():
        return
    pid = int(json.loads(state.read_text())["pid"])
    state.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):  # up to 10 s for a clean exit, then no more waiting
            if not _alive(pid):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie (exited, waiting for a parent that may never reap it)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaps it when this process is its parent (a run without xdist)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
