"""The store contract between real gateway processes: a second process on one store, and a
``kill -9`` in the middle of writes. Parametrised over both stores, like the contract."""

from __future__ import annotations

import functools
import itertools
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from gateway.testing.procs import Proc, start_gateway_process, wait_until
from tests.conftest import UPSTREAM_KEY

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(params=["embedded", "redis"])
def env(request: pytest.FixtureRequest, tmp_path: Path, fake_proc: Proc) -> dict[str, str]:
    """Settings of gateway processes sharing one store of each kind."""
    settings = {
        "GATEWAY_UPSTREAM_URL": fake_proc.url,
        "GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY,
        "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "GATEWAY_LOG_LEVEL": "warning",
    }
    if request.param == "embedded":
        settings["GATEWAY_STORE_PATH"] = str(tmp_path / "data" / "store.db")
    else:
        redis_proc: Proc = request.getfixturevalue("redis_proc")
        url = f"redis://127.0.0.1:{redis_proc.port}/3"
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
        settings["GATEWAY_REDIS_URL"] = url
    return settings


Serve = Callable[[], Proc]


@pytest.fixture
def serve(env: dict[str, str]) -> Iterator[Serve]:
    """Start gateway processes on the test's store; whatever still runs is stopped after."""
    started: list[Proc] = []

    def start() -> Proc:
        started.append(start_gateway_process(env))
        return started[-1]

    yield start
    for proc in started:
        proc.stop()


def create_key(gateway: Proc, **body: object) -> dict[str, str]:
    response = httpx.post(
        f"{gateway.url}/admin/keys", json={"name": "t", **body}, headers=ADMIN, timeout=10
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def authenticates(gateway: Proc, *keys: str) -> bool:
    """Every key is accepted (``/v1/usage`` reads the record fresh from the store)."""
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for key in keys:
            response = client.get("/v1/usage", headers={"authorization": f"Bearer {key}"})
            assert response.status_code in (200, 401), response.text
            if response.status_code != 200:
                return False
    return True


def refused_start(env: dict[str, str]) -> str:
    """``gateway serve`` that must stop at start-up: exit 2 and the one line it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--port", "0"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    return lines[0]


def test_a_second_process_on_one_store_refuses_to_start_or_shares_it(
    env: dict[str, str], serve: Serve
) -> None:
    first = serve()
    created = create_key(first)
    if "GATEWAY_STORE_PATH" in env:
        database = str(Path(env["GATEWAY_STORE_PATH"]).resolve())
        for spelling in (database, database.removesuffix(".db") + ".json"):
            line = refused_start({**env, "GATEWAY_STORE_PATH": spelling})
            assert database in line and f"pid {first.popen.pid}" in line
        assert authenticates(first, created["key"])
    else:
        second = serve()
        assert authenticates(second, created["key"])
        revoked = httpx.delete(f"{second.url}/admin/keys/{created['id']}", headers=ADMIN)
        assert revoked.status_code == 200
        assert not authenticates(first, created["key"])


def stored_secret(env: dict[str, str]) -> bytes | None:
    """The server secret as it is on disk (embedded) or in Redis."""
    if "GATEWAY_STORE_PATH" in env:
        with sqlite3.connect(env["GATEWAY_STORE_PATH"]) as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = 'server_secret'").fetchone()
        return bytes(row[0]) if row else None
    client = redis.Redis.from_url(env["GATEWAY_REDIS_URL"])
    value = client.get("gw:secret")
    client.close()
    return bytes.fromhex(value.decode()) if isinstance(value, bytes) else None


class Traffic:
    """Image requests with one key (each a cache miss, so each is settled), and a key
    created for every few images answered, from threads that stop when the gateway dies."""

    IMAGES_PER_KEY = 4

    def __init__(self, gateway: Proc, key: str) -> None:
        self.gateway, self.key = gateway, key
        self.answered: list[float] = []
        self.keys: list[str] = []
        self.unexpected: list[str] = []
        self.began = time.monotonic()
        self._progress = threading.Condition()
        self._generating = 3
        self._threads = [
            threading.Thread(target=self._generate, args=(i,), daemon=True)
            for i in range(self._generating)
        ]
        self._threads.append(threading.Thread(target=self._create, daemon=True))
        for thread in self._threads:
            thread.start()

    def _generate(self, worker: int) -> None:
        headers = {"authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.gateway.url, timeout=10) as client:
            for i in itertools.count():
                body = {"model": "dall-e-2", "prompt": f"{self.key} {worker} {i}"}
                try:
                    answer = client.post("/v1/images/generations", json=body, headers=headers)
                except httpx.HTTPError:
                    break
                if not answer.is_success:
                    self.unexpected.append(answer.text)
                    break
                with self._progress:
                    self.answered.append(time.monotonic())
                    self._progress.notify_all()
        with self._progress:
            self._generating -= 1
            self._progress.notify_all()

    def _due(self) -> bool:
        return not self._generating or len(self.answered) >= self.IMAGES_PER_KEY * len(self.keys)

    def _create(self) -> None:
        with httpx.Client(base_url=self.gateway.url, timeout=10, headers=ADMIN) as client:
            while True:
                with self._progress:
                    self._progress.wait_for(self._due)
                try:
                    answer = client.post("/admin/keys", json={"name": "crash"})
                except httpx.HTTPError:
                    return
                if answer.status_code != 201:
                    self.unexpected.append(answer.text)
                    return
                self.keys.append(answer.json()["key"])

    def ran(self, seconds: float) -> bool:
        """Keys were created, images answered, for at least ``seconds``."""
        return (
            len(self.keys) >= 5
            and len(self.answered) >= 20
            and time.monotonic() - self.began >= seconds
        )

    def join(self) -> None:
        for thread in self._threads:
            thread.join(30)


def test_kill_9_during_writes_loses_no_key_and_at_most_a_second_of_counting(
    env: dict[str, str], serve: Serve
) -> None:
    """Each round kills the gateway while keys are being created and images counted: the
    first soon after start, the second after seconds of traffic (so the counting that must
    have been written by then is more than nothing)."""
    handed_out: list[str] = []
    secret: bytes | None = None
    counted: list[tuple[str, int, int]] = []
    for traffic_seconds in (0.0, 3.0):
        gateway = serve()
        secret = secret or stored_secret(env)
        assert secret is not None
        assert authenticates(gateway, *handed_out)
        for key, at_least, at_most in counted:
            usage = httpx.get(
                f"{gateway.url}/v1/usage", headers={"authorization": f"Bearer {key}"}
            ).json()
            assert at_least <= usage["totals"]["images"] <= at_most
        key = create_key(gateway)["key"]
        handed_out.append(key)
        traffic = Traffic(gateway, key)
        wait_until(functools.partial(traffic.ran, traffic_seconds), what="traffic")
        gateway.stop(signal.SIGKILL)
        killed = time.monotonic()
        traffic.join()
        assert traffic.unexpected == []
        handed_out += traffic.keys
        settled_before = sum(at < killed - 2.0 for at in traffic.answered)
        counted.append((key, settled_before, len(traffic.answered) + 3))
    assert counted[-1][1] > 0
    assert authenticates(serve(), *handed_out)
    assert stored_secret(env) == secret


def test_an_unreadable_database_stops_start_up_with_one_line(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    database.write_bytes(b"this is not a SQLite database" * 50)
    line = refused_start({"GATEWAY_STORE_PATH": str(database)})
    assert str(database.resolve()) in line and "not a database" in line
    assert database.read_bytes() == b"this is not a SQLite database" * 50
