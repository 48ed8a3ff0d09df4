"""A hostile upstream for tests: a raw TCP server that misbehaves the way each request asks.

The first word of a generation's ``prompt`` names the behaviour (:data:`MODES`), so one
server serves a test that cycles through all of them, through a real gateway. It speaks
bytes, not HTTP through a framework, because what it must send (a header block that never
ends, a reset in the middle of a body, garbage, interim answers) is what a framework would
never let it send. ``GET /_stats`` answers how many requests each mode saw.

Run it alone with ``python -m gateway.testing.hostile_upstream --port 9100``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import os
import socket
import struct
import termios
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from gateway.testing.fake_answers import tiny_png

Writer = asyncio.StreamWriter
HEADER_LINE = b"x-filler: " + b"f" * 1000 + b"\r\n"
CHUNK = b"%x\r\n%s\r\n" % (65536, b"z" * 65536)


def _ok_body() -> bytes:
    image = base64.b64encode(tiny_png(7)).decode()
    return orjson.dumps({"created": int(time.time()), "data": [{"b64_json": image}]})


async def _send(writer: Writer, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def _reset(writer: Writer) -> None:
    """Abort the connection with a TCP reset once what was written has been taken in."""
    sock = writer.get_extra_info("socket")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        queued = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        if struct.unpack("i", queued)[0] == 0:
            break
        await asyncio.sleep(0.001)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def ok(writer: Writer) -> None:
    """A well-formed 201 with one base64 image, connection kept alive."""
    body = _ok_body()
    head = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
    await _send(writer, head + b"content-length: %d\r\n\r\n" % len(body) + body)


async def oversized_headers(writer: Writer) -> None:
    """20,000 header lines (20 MB) in front of a valid answer."""
    await _send(writer, b"HTTP/1.1 200 OK\r\n")
    for _ in range(20):
        await _send(writer, HEADER_LINE * 1000)
    await ok(writer)


async def endless_body(writer: Writer) -> None:
    """A chunked body that never ends."""
    await _send(writer, b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    while True:
        await _send(writer, CHUNK)


async def endless_close_delimited(writer: Writer) -> None:
    """A body without a length that never ends (it would end with the connection)."""
    await _send(writer, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n")
    while True:
        await _send(writer, b"[" * 65536)


async def huge_length(writer: Writer) -> None:
    """A declared ``Content-Length`` of a terabyte, then silence (it would take for ever)."""
    await _send(writer, b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000000\r\n\r\n{")
    await asyncio.Event().wait()


async def reset_mid_body(writer: Writer) -> None:
    """Half of a ``Content-Length`` body, then a reset."""
    await _send(writer, b'HTTP/1.1 201 Created\r\ncontent-length: 4096\r\n\r\n{"created": 1, "da')
    await _reset(writer)


async def reset_close_delimited(writer: Writer) -> None:
    """A body delimited by the close, cut by a reset instead of a clean close."""
    await _send(writer, b'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\r\n{"crea')
    await _reset(writer)


async def slow_drip(writer: Writer) -> None:
    """A valid answer, one byte every 50 ms (never silent, never done in time)."""
    body = _ok_body()
    answer = b"HTTP/1.1 201 Created\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    for index in range(len(answer)):
        await _send(writer, answer[index : index + 1])
        await asyncio.sleep(0.05)


async def garbage(writer: Writer) -> None:
    """Random bytes, then the close."""
    await _send(writer, os.urandom(8192))


async def interim_forever(writer: Writer) -> None:
    """``100 Continue`` answers without end."""
    while True:
        await _send(writer, b"HTTP/1.1 100 Continue\r\n\r\n" * 1000)


async def interim_then_silence(writer: Writer) -> None:
    """One ``100 Continue``, then nothing."""
    await _send(writer, b"HTTP/1.1 100 Continue\r\n\r\n")
    await asyncio.Event().wait()


async def switching_protocols(writer: Writer) -> None:
    """A ``101`` to a protocol nobody asked for."""
    await _send(writer, b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n\0\0\0")


async def close_at_once(writer: Writer) -> None:
    """The request read, the connection closed without a byte."""


async def headers_then_close(writer: Writer) -> None:
    """Half a header block, then the close."""
    await _send(writer, b"HTTP/1.1 200 OK\r\ncontent-ty")


Mode = Callable[[Writer], Awaitable[None]]
MODES: dict[str, Mode] = {
    "ok": ok,
    "oversized-headers": oversized_headers,
    "endless-body": endless_body,
    "endless-close-delimited": endless_close_delimited,
    "huge-length": huge_length,
    "reset-mid-body": reset_mid_body,
    "reset-close-delimited": reset_close_delimited,
    "slow-drip": slow_drip,
    "garbage": garbage,
    "interim-forever": interim_forever,
    "interim-then-silence": interim_then_silence,
    "switching-protocols": switching_protocols,
    "close-at-once": close_at_once,
    "headers-then-close": headers_then_close,
}
KEEPS_ALIVE = {"ok"}


class HostileUpstream:
    """The server's state: requests seen per mode."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        """Serve one connection: each request's prompt picks how it is answered."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    field, _, value = line.partition(b":")
                    if field.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                if head.startswith(b"GET /_stats "):
                    stats = orjson.dumps({"calls": self.calls})
                    head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(stats)
                    await _send(writer, head + stats)
                    continue
                name = _mode_of(body)
                self.calls[name] = self.calls.get(name, 0) + 1
                if name in KEEPS_ALIVE:
                    await MODES[name](writer)
                    continue
                await _until_gone(reader, MODES.get(name, garbage)(writer))
                break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.transport.abort()


async def _until_gone(reader: asyncio.StreamReader, behaviour: Awaitable[None]) -> None:
    """Run ``behaviour`` until it ends or the client goes away, whichever is first."""
    tasks = {asyncio.ensure_future(behaviour), asyncio.ensure_future(reader.read())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()
            task.cancel()


def _mode_of(body: bytes) -> str:
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "garbage"
    prompt = parsed.get("prompt") if isinstance(parsed, dict) else None
    return prompt.split()[0] if isinstance(prompt, str) and prompt.strip() else "garbage"


async def start(host: str = "127.0.0.1", port: int = 0) -> tuple[HostileUpstream, asyncio.Server]:
    """Start the hostile upstream on the running loop; its state and server."""
    hostile = HostileUpstream()
    server = await asyncio.start_server(hostile.handle, host, port)
    return hostile, server


async def _serve(host: str, port: int) -> None:
    _, server = await start(host, port)
    print(f"hostile upstream listening on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """``python -m gateway.testing.hostile_upstream [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    options = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(options.host, options.port))


if __name__ == "__main__":
    main()
