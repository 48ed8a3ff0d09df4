"""Hostile clients: slow bodies time out; CORS stays off unless origins are configured."""

from __future__ import annotations

import signal
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gateway.testing.procs import wait_until
from tests.e2e.conftest import FakeUpstream, GatewayStarter

pytestmark = pytest.mark.e2e


def read_answer(sock: socket.socket) -> str:
    """One whole HTTP answer (head and a Content-Length body), however it is split."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()


def test_stalled_body_times_out_with_408(start_gateway: GatewayStarter) -> None:
    gw = start_gateway("embedded", GATEWAY_BODY_READ_TIMEOUT="0.5")
    key = gw.create_key()["key"]
    with socket.create_connection(("127.0.0.1", gw.proc.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {key}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model": '
        )
        answer = read_answer(sock)
    assert answer.startswith("HTTP/1.1 408")
    assert "request_timeout" in answer


def test_cors_off_by_default_and_on_when_configured(start_gateway: GatewayStarter) -> None:
    preflight = {"origin": "https://app.example", "access-control-request-method": "POST"}
    plain = start_gateway("embedded")
    response = httpx.options(f"{plain.url}/v1/images/generations", headers=preflight, timeout=5)
    assert "access-control-allow-origin" not in response.headers
    cors = start_gateway("embedded", GATEWAY_CORS_ORIGINS="https://app.example")
    response = httpx.options(f"{cors.url}/v1/images/generations", headers=preflight, timeout=5)
    assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_sigterm_lets_in_flight_requests_finish(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gw = start_gateway("redis")
    created = gw.create_key(images_per_day=5)
    upstream.control(latency=1.0)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(gw.post, {"model": "dall-e-2", "prompt": "in flight"}, created["key"])
        wait_until(lambda: upstream.stats()["in_flight"] == 1, 10, "the request in flight")
        gw.proc.popen.send_signal(signal.SIGTERM)
        assert pending.result(timeout=20).status_code == 201
    assert gw.proc.popen.wait(20) in (0, -signal.SIGTERM)
    upstream.control(latency=0)
    other = start_gateway("redis")
    usage = other.admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["totals"]["images"] == 1
    assert usage["limits"]["images_per_day"]["remaining"] == 4
