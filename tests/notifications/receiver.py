"""A real webhook receiver: an HTTP server on loopback (ports 8600-8649) recording what it is sent."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PORTS = range(8600, 8650)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the request arrived


class Receiver:
    """Answers 200 unless told otherwise: `script` holds what to do with the next requests, in order:
    an int (that status), ("redirect", url), or "hang" (hold the request until `release`)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.received: list[Received] = []
        self.script: deque[Any] = deque()
        self.release = threading.Event()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._cond:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                    )
                    action = receiver.script.popleft() if receiver.script else 200
                    receiver._cond.notify_all()
                if action == "hang":
                    receiver.release.wait(15)
                    action = 200
                if isinstance(action, tuple):
                    self.send_response(302)
                    self.send_header("location", action[1])
                else:
                    self.send_response(int(action))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = self._bind(host, Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def _bind(host: str, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        ThreadingHTTPServer.allow_reuse_address = False
        ThreadingHTTPServer.request_queue_size = 64
        for port in PORTS:
            try:
                server = ThreadingHTTPServer((host, port), handler)
            except OSError:
                continue
            server.daemon_threads = True
            return server
        raise RuntimeError(f"no free port in {PORTS}")

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {len(self.received)} requests, expected {count}")
                self._cond.wait(left)
            return list(self.received)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
