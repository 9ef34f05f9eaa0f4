"""The server deployment of docker-compose.yml, started from processes on this machine, for the fault test.

Every part is the test's own and on loopback: a PostgreSQL cluster (initdb into a temporary directory,
`pg_ctl`, its own port), Meilisearch in production mode (the test binary of .ci/meilisearch.sh), Redis
(`--save ''`), the compose file's one-shot `migrate` command, `citymarket serve --workers 2 --no-migrate`
(the API command of compose, two worker processes under uvicorn's supervisor) and `citymarket indexer`,
all with the production settings of compose (`CITYMARKET_ENV=production`, generated secrets and keys).

Ports: CITYMARKET_FAULT_PORT_BASE=N takes N..N+3; otherwise the kernel picks free ones. PostgreSQL refuses
to run as root: as root the cluster runs as the `postgres` user, in a directory under TMPDIR it can reach.
A part that cannot be had (no PostgreSQL binaries, no redis-server) skips the test with the reason, unless
CITYMARKET_REQUIRE_FAULT_STACK=1 (CI), which makes it a failure.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The console script `pip install .` puts beside the interpreter (compose runs `citymarket ...`).
_SCRIPT = Path(sys.executable).parent / "citymarket"
CITYMARKET = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "app.cli"]
INDEXER_APP_NAME = "citymarket-indexer"  # libpq's PGAPPNAME: how the test sees the indexer's transaction


def unavailable(reason: str) -> None:
    if os.environ.get("CITYMARKET_REQUIRE_FAULT_STACK") == "1":
        pytest.fail(
            f"the fault test's stack is required (CITYMARKET_REQUIRE_FAULT_STACK=1) but {reason}", pytrace=False
        )
    pytest.skip(f"fault test stack not available: {reason}")


def free_ports(count: int) -> list[int]:
    base = os.environ.get("CITYMARKET_FAULT_PORT_BASE")
    if base:
        return [int(base) + i for i in range(count)]
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        unavailable("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin or pg_ctl on PATH)")
    return Path(str(pg_ctl)).parent


def wait_until(what: str, ready: object, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if callable(ready) and ready():
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout:.0f} s")
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Postgres:
    """A cluster of the test's own; `stop_immediately` and `start` are the outage."""

    bin: Path
    data: Path
    port: int
    as_user: list[str]
    password: str = field(default_factory=lambda: secrets.token_hex(16))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*self.as_user, *args], capture_output=True, check=check, timeout=60)

    def initdb(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*self.as_user, str(self.bin / "initdb"), "-D", str(self.data / "cluster"), "-U", "postgres",
             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def start(self) -> None:
        # fsync off: the outage kills PostgreSQL, not the machine, so what a commit wrote is in the OS's cache
        # either way; with it on, each restart's recovery checkpoint took seconds on a busy machine.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c max_connections=100 -c fsync=off"
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data / "cluster"), "-l", str(self.data / "postgres.log"),
                 "-o", options, "-w", "-t", "30", "start")  # fmt: skip

    def stop_immediately(self) -> None:
        """No shutdown checkpoint, every backend killed: a crash, as far as clients can tell."""
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data / "cluster"), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data / "cluster"), "-m", "immediate", "stop", check=False)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host=str(self.data), port=self.port, user="postgres", dbname="postgres", autocommit=True)

    def create_database(self) -> None:
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE citymarket LOGIN PASSWORD '{self.password}'")
            conn.execute("CREATE DATABASE citymarket OWNER citymarket")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://citymarket:{self.password}@127.0.0.1:{self.port}/citymarket"

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=str(self.data), port=self.port, user="postgres", dbname="citymarket", autocommit=True
        )


class Stack:
    """The processes of the deployment. Each runs in a session of its own, so that stopping one stops its
    children (the API's workers) and nothing else."""

    def __init__(self, root: Path, meili_binary: Path) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        pg_port, meili_port, redis_port, api_port = free_ports(4)
        owner = _postgres_owner()
        pg_dir = Path(tempfile.mkdtemp(prefix="citymarket-fault-pg-"))
        as_user: list[str] = []
        if owner is not None:
            os.chown(pg_dir, owner.pw_uid, owner.pw_gid)
            as_user = ["runuser", "-u", owner.pw_name, "--"]
        self.postgres = Postgres(postgres_bin(), pg_dir, pg_port, as_user)
        self.meili_binary = meili_binary
        self.meili_url = f"http://127.0.0.1:{meili_port}"
        self.meili_key = secrets.token_hex(24)
        self.redis_port = redis_port
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.api_port = api_port
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}

    # ------------------------------------------------------------------------------------------- start

    def start(self) -> None:
        redis = shutil.which("redis-server")
        if redis is None:
            unavailable("redis-server is not on PATH")
        initdb = self.postgres.initdb()
        self._spawn("meilisearch", [
            str(self.meili_binary), "--http-addr", self.meili_url.removeprefix("http://"),
            "--master-key", self.meili_key, "--env", "production", "--no-analytics", "--log-level", "WARN",
            "--db-path", str(self.root / "meili" / "data.ms"), "--dump-dir", str(self.root / "meili" / "dumps"),
            "--snapshot-dir", str(self.root / "meili" / "snapshots"),
        ])  # fmt: skip
        self._spawn("redis", [str(redis), "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(self.root)])  # fmt: skip
        self.env = self._production_env(signing_keys())
        if initdb.wait(60) != 0:
            assert initdb.stderr is not None
            raise RuntimeError(f"initdb failed: {initdb.stderr.read().decode(errors='replace')[-800:]}")
        self.postgres.start()
        self.postgres.create_database()
        # compose's one-shot `migrate` service (`seed` migrates first), then the API and the indexer.
        migrate = subprocess.run([*CITYMARKET, "seed", "--no-demo"], env=self.env, cwd=self.root,
                                 capture_output=True, timeout=120)  # fmt: skip
        if migrate.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrate.stderr.decode(errors='replace')[-1500:]}")
        wait_until("Meilisearch", lambda: answers(f"{self.meili_url}/health"), 30, self.processes["meilisearch"])
        self.start_api()
        self.start_indexer()
        wait_until("the API", lambda: answers(f"{self.api_url}/readyz"), 120, self.processes["api"])

    def start_api(self) -> None:
        # compose: citymarket serve --host 0.0.0.0 --port 8000 --workers 4 --no-migrate (loopback here).
        prometheus = self.root / "prometheus"
        shutil.rmtree(prometheus, ignore_errors=True)
        prometheus.mkdir()
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(prometheus)}
        self._spawn("api", [*CITYMARKET, "serve", "--host", "127.0.0.1", "--port", str(self.api_port),
                            "--workers", "2", "--no-migrate"], env=env)  # fmt: skip

    def start_indexer(self) -> None:
        self._spawn("indexer", [*CITYMARKET, "indexer"], env={**self.env, "PGAPPNAME": INDEXER_APP_NAME})

    # ------------------------------------------------------------------------------------------- faults

    def kill(self, name: str) -> int:
        """kill -9 a process of the stack (its own pid, not its group)."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        return process.pid

    def api_workers(self) -> list[int]:
        """The pids of uvicorn's worker processes (children of `serve` started by multiprocessing's spawn)."""
        pid = self.processes["api"].pid
        workers = []
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"spawn_main" in cmdline and _running(int(child)):
                    workers.append(int(child))
        return workers

    # ------------------------------------------------------------------------------------------- stop

    def stop(self) -> None:
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM if name == "api" else signal.SIGKILL)
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.postgres.stop()
        shutil.rmtree(self.postgres.data, ignore_errors=True)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # ------------------------------------------------------------------------------------------- helpers

    def _spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None, log: bool = True
    ) -> subprocess.Popen[bytes]:
        output = open(self.logs / f"{name}.log", "ab") if log else subprocess.PIPE  # noqa: SIM115
        process = subprocess.Popen(
            list(argv), env=dict(env or self._base_env()), cwd=self.root, stdout=output,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        if log:
            self.processes[name] = process
        return process

    def _base_env(self) -> dict[str, str]:
        # Nothing of the caller's configuration (a CITYMARKET_TEST_DATABASE_URL, a .env) leaks into the stack.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CITYMARKET_", "PG"))}
        env["PYTHONPATH"] = str(REPO_ROOT)
        env["PYTHONUNBUFFERED"] = "1"  # as compose's image: each log line as it is written
        env["CITYMARKET_DATA_DIR"] = str(self.root / "data")
        return env

    def _production_env(self, jwks: str) -> dict[str, str]:
        return {
            **self._base_env(),
            # docker-compose.yml's x-app environment, pointed at this machine's processes.
            "CITYMARKET_ENV": "production",
            "CITYMARKET_DATABASE_URL": self.postgres.url,
            "CITYMARKET_SEARCH_ENGINE": "meilisearch",
            "CITYMARKET_MEILISEARCH_URL": self.meili_url,
            "CITYMARKET_MEILISEARCH_API_KEY": self.meili_key,
            "CITYMARKET_SECRET_KEY": secrets.token_urlsafe(32),
            "CITYMARKET_JWT_PRIVATE_KEYS": jwks,
            "CITYMARKET_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CITYMARKET_INDEXER_IN_PROCESS": "false",
            "CITYMARKET_SEED_ON_START": "false",
            "CITYMARKET_PUBLIC_BASE_URL": self.api_url,
            "CITYMARKET_TRUSTED_PROXIES": "",
        }


def signing_keys() -> str:
    """A JWK set for CITYMARKET_JWT_PRIVATE_KEYS, as `citymarket keys generate` prints it."""
    from app.auth.keys import ManagedKey, generate_key, new_kid

    key = ManagedKey(key=generate_key("ES256"), kid=new_kid(), alg="ES256", created_at=0)
    return json.dumps({"keys": [dict(key.key.as_dict(private=True, kid=key.kid, alg="ES256", use="sig"))]})


def admin_client(url: str) -> tuple[str, str]:
    """A confidential client of the platform organisation (admin), as `citymarket clients create --admin`."""
    from sqlmodel import create_engine

    import app.models  # noqa: F401  (every table, so that the mappers configure)
    from app.core.db import unit_of_work
    from app.identity.models import OrganisationKind
    from app.identity.service import create_client, ensure_organisation

    engine = create_engine(url)
    try:
        with unit_of_work(engine) as session:
            organisation = ensure_organisation(session, OrganisationKind.platform, None)
            created = create_client(session, name="fault-test load", organisation=organisation)
            client_id = created.client.client_id
        assert created.secret is not None
        return client_id, created.secret
    finally:
        engine.dispose()


def _postgres_owner() -> pwd.struct_passwd | None:
    """Who runs the cluster: this user, or `postgres` when this is root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        unavailable("running as root and there is no `postgres` user to run PostgreSQL as")
    if shutil.which("runuser") is None:
        unavailable("running as root and runuser is missing")
    return owner


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def running_stack(root: Path, meili_binary: Path) -> Iterator[Stack]:
    stack = Stack(root, meili_binary)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
