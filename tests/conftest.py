"""Session-wide real services: a private redis-server the tests start and own."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
import redis

from gateway.testing.procs import Proc, start_redis, start_uvicorn_app

UPSTREAM_KEY = "test-upstream-key"


@pytest.fixture(scope="session", autouse=True)
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Temporary files of the session and of every process it starts (process logs, Redis
    working directories, metrics directories) go under pytest's own base directory, which
    pytest prunes (the last three runs are kept for post-mortems), not loose in /tmp."""
    base = str(tmp_path_factory.mktemp("procs"))
    saved_dir, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = base
    os.environ["TMPDIR"] = base
    yield
    tempfile.tempdir = saved_dir
    if saved_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved_env


@pytest.fixture(scope="session")
def redis_proc() -> Iterator[Proc]:
    """One redis-server for the whole session, on a free loopback port."""
    proc = start_redis()
    yield proc
    proc.stop()


@pytest.fixture
def redis_url(redis_proc: Proc) -> str:
    """A clean database on the session's own redis-server (never a server we did not start)."""
    url = f"redis://127.0.0.1:{redis_proc.port}/0"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture(scope="session")
def fake_proc() -> Iterator[Proc]:
    """One fake AIML upstream for the whole session, accepting ``UPSTREAM_KEY``."""
    proc = start_uvicorn_app(
        "gateway.testing.fake_upstream:create_fake_upstream_from_env",
        env={"FAKE_UPSTREAM_API_KEYS": UPSTREAM_KEY},
        ready_path="/_stats",
    )
    yield proc
    proc.stop()
