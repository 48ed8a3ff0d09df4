"""Webhook receivers on loopback: one that answers as scripted (Starlette under uvicorn, in
the test's event loop), and one that takes every request and never finishes answering (a
thread of its own, so synchronous end-to-end tests can use it too)."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.alerts.webhook import SIGNATURE_HEADER
from gateway.testing.procs import free_port, wait_until_async


@dataclass
class Hook:
    """A receiver's address and what it got: each body with its signature header. It
    answers with ``statuses`` in turn, then 204."""

    base: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[bytes, str | None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base}/hook"


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    """A webhook receiver serving on a free loopback port for the test's duration."""
    port = free_port()
    receiver = Hook(f"http://127.0.0.1:{port}")

    async def endpoint(request: Request) -> Response:
        receiver.received.append((await request.body(), request.headers.get(SIGNATURE_HEADER)))
        status = receiver.statuses.pop(0) if receiver.statuses else 204
        return Response(status_code=status)

    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", endpoint, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="error",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    await wait_until_async(lambda: server.started, 10, "the webhook receiver to listen")
    yield receiver
    server.should_exit = True
    await serving


class StuckReceiver:
    """A webhook receiver that reads every request and never finishes its answer.

    ``silent`` sends nothing back; ``drip`` sends a 200's status line and headers at once and
    then its body one byte every ``interval`` seconds, so that every read is quick but the
    whole answer would take hours. ``requests`` counts the requests read (a retry comes on a
    connection of its own). Use it as a context manager: leaving it ends every answer.
    """

    BODY_BYTES = 100_000

    def __init__(self, behaviour: str, interval: float = 0.05) -> None:
        assert behaviour in ("silent", "drip")
        self.requests = 0
        closing = threading.Event()
        lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                with lock:
                    outer.requests += 1
                if behaviour == "silent":
                    closing.wait()
                    return
                head = f"HTTP/1.1 200 OK\r\ncontent-length: {outer.BODY_BYTES}\r\n\r\n"
                try:
                    conn.sendall(head.encode())
                    while not closing.wait(interval):
                        conn.sendall(b"x")
                except OSError:
                    return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._closing = closing
        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hooks/gateway"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> StuckReceiver:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
