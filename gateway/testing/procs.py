"""Start and stop the real processes tests use: redis-server, uvicorn apps, the gateway.

Everything listens on loopback ports chosen free at start-up, and readiness is polled with a
deadline (never a fixed sleep).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll ``check`` until it is true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


async def wait_until_async(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 15.0, what: str = "condition"
) -> None:
    """:func:`wait_until` for async tests: the event loop runs between the polls, and
    ``check`` may be a coroutine function."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.005
    while loop.time() < deadline:
        done = check()
        if await done if inspect.isawaitable(done) else done:
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@dataclass
class Proc:
    """A child process with its port and a log file for post-mortems."""

    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path
    argv: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Stop the process (SIGTERM, then SIGKILL after ``timeout``) and return its exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        return int(self.popen.returncode)


def spawn(
    argv: list[str],
    port: int,
    ready: Callable[[], bool],
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 20.0,
    cwd: Path | None = None,
) -> Proc:
    """Start ``argv`` (in ``cwd``, when given) and wait until ``ready()`` is true; raise with
    the log if it dies first."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="gw-test-"))
    log_path = log_dir / f"proc-{port}.log"
    full_env = {**os.environ, **(env or {})}
    with log_path.open("wb") as log:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=cwd)
    proc = Proc(popen, port, log_path, argv)

    def alive_and_ready() -> bool:
        if popen.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited with {popen.returncode}:\n{proc.log()}")
        return ready()

    try:
        wait_until(alive_and_ready, timeout, what=" ".join(argv))
    except Exception:
        proc.stop(signal.SIGKILL)
        raise
    return proc


def redis_server_binary() -> str:
    """Path of redis-server; tests need a real one (CI installs it when missing)."""
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError("redis-server not found on PATH: apt-get install redis-server")
    return path


def start_redis(
    port: int | None = None,
    log_dir: Path | None = None,
    workdir: Path | None = None,
    *,
    args: Sequence[str] = (),
    ready: Callable[[], bool] | None = None,
) -> Proc:
    """A private redis-server on loopback; with ``workdir`` it keeps an fsync'd AOF there
    (so a restart on the same port and directory keeps the data), else nothing on disk.
    ``args`` are added last (so they win: ``--port 0 --tls-port N`` serves TLS only) and
    ``ready`` replaces the check that ``port`` accepts connections."""
    port = port or free_port()
    durable = workdir is not None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="gw-redis-"))
    argv = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes" if durable else "no",
        "--appendfsync",
        "always",
        "--dir",
        str(workdir),
        "--protected-mode",
        "yes",
        *args,
    ]
    return spawn(argv, port, ready or (lambda: port_open(port)), log_dir=log_dir)


def start_uvicorn_app(
    factory: str,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    log_dir: Path | None = None,
    ready_path: str = "/",
) -> Proc:
    """Run ``uvicorn --factory <factory>`` on a free loopback port until it answers HTTP."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]

    def ready() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=0.5)
        except httpx.HTTPError:
            return False
        return True

    return spawn(argv, port, ready, env=env, log_dir=log_dir)


def http_ready(port: int, path: str) -> Callable[[], bool]:
    """A readiness check: ``GET path`` on 127.0.0.1:port answers 2xx."""

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=0.5).is_success
        except httpx.HTTPError:
            return False

    return ready


def start_gateway_process(
    env: Mapping[str, str], port: int | None = None, log_dir: Path | None = None
) -> Proc:
    """``gateway serve`` on a free loopback port, until ``/readyz`` answers 200."""
    port = port or free_port()
    argv = [sys.executable, "-m", "gateway", "serve", "--port", str(port)]
    return spawn(argv, port, http_ready(port, "/readyz"), env=env, log_dir=log_dir)
