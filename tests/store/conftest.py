"""Both store implementations behind one fixture, so every contract test runs on each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import trustme

from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.testing.procs import Proc, free_port, start_redis

Age = Callable[[float], Awaitable[None]]


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["embedded", "redis"])
async def store(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Store]:
    """A fresh store of each kind: the embedded one on a database file of its own."""
    if request.param == "embedded":
        the_store: Store = MemoryStore(tmp_path / "store.db", cache_max_bytes=10_000, clock=clock)
    else:
        url = request.getfixturevalue("redis_url")
        the_store = RedisStore.from_url(url)
    await the_store.start()
    yield the_store
    await the_store.aclose()


def shift_redis_expiries(url: str, seconds: float) -> None:
    """What ``seconds`` passing does to a Redis: every expiry that close comes true.

    Redis expires keys on its own clock, which a test cannot move; shortening every time
    to live by ``seconds`` (and deleting keys whose time runs out) is the same to a reader.
    """
    client = redis.Redis.from_url(url)
    try:
        for name in client.scan_iter(count=1000):
            left = int(client.pttl(name))
            if left < 0:
                continue
            if left <= seconds * 1000:
                client.delete(name)
            else:
                client.pexpire(name, left - int(seconds * 1000))
    finally:
        client.close()


@pytest.fixture
def age(request: pytest.FixtureRequest, store: Store, clock: FakeClock) -> Age:
    """Let time pass for the store: the injected clock moves, Redis's expiries with it, and
    the embedded store prunes as its once-a-minute sweep would have."""

    async def let_pass(seconds: float) -> None:
        clock.now += seconds
        if isinstance(store, MemoryStore):
            await store.prune()
        else:
            shift_redis_expiries(request.getfixturevalue("redis_url"), seconds)

    return let_pass


REDIS_PASSWORD = "the-right-password"


@dataclass(frozen=True)
class TlsFiles:
    """A test CA, and certificates it signed for a server and a client."""

    ca: Path
    server_cert: Path
    server_key: Path
    other_name_cert: Path
    other_name_key: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(folder / "ca.pem")
    paths: list[Path] = []
    for name, hosts in (
        ("server", ("127.0.0.1", "localhost")),
        ("other", ("redis.internal",)),
        ("client", ("gateway.client",)),
    ):
        issued = ca.issue_cert(*hosts)
        issued.cert_chain_pems[0].write_to_path(folder / f"{name}.crt")
        issued.private_key_pem.write_to_path(folder / f"{name}.key")
        paths += [folder / f"{name}.crt", folder / f"{name}.key"]
    return TlsFiles(folder / "ca.pem", *paths)


def _tls_redis(files: TlsFiles, cert: Path, key: Path, auth_clients: str) -> Proc:
    port = free_port()
    return start_redis(
        port,
        args=[
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(files.ca),
            "--tls-auth-clients",
            auth_clients,
        ],
    )


@pytest.fixture(scope="session")
def mtls_redis(tls_files: TlsFiles) -> Iterator[Proc]:
    """TLS only, with a certificate for 127.0.0.1; clients must show a certificate."""
    proc = _tls_redis(tls_files, tls_files.server_cert, tls_files.server_key, "yes")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def misnamed_tls_redis(tls_files: TlsFiles) -> Iterator[Proc]:
    """TLS only, with a certificate for another host name than the one connected to."""
    proc = _tls_redis(tls_files, tls_files.other_name_cert, tls_files.other_name_key, "no")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def password_redis() -> Iterator[Proc]:
    """A redis-server that wants ``REDIS_PASSWORD``."""
    proc = start_redis(args=["--requirepass", REDIS_PASSWORD])
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def unix_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A redis-server on a unix socket only (and a password); its socket's path."""
    path = tmp_path_factory.mktemp("sock") / "redis.sock"
    proc = start_redis(
        args=[
            "--port",
            "0",
            "--unixsocket",
            str(path),
            "--unixsocketperm",
            "700",
            "--requirepass",
            REDIS_PASSWORD,
        ],
        ready=path.exists,
    )
    yield path
    proc.stop()


def other_clients(admin: redis.Redis, name: str | None = None) -> list[dict[str, Any]]:
    """The server's clients other than ``admin`` (named ``name``, when given)."""
    own = admin.client_id()
    return [
        c
        for c in admin.client_list()
        if int(c["id"]) != own and (name is None or c.get("name") == name)
    ]
