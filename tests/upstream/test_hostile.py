"""Every behaviour of the hostile upstream, as the upstream client turns it into an error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.testing.hostile_upstream import MODES, HostileUpstream, start
from gateway.upstream.client import Failure, Upstream, UpstreamCallError
from gateway.upstream.transport import PooledTransport

TIMES_OUT = {"slow-drip", "interim-then-silence"}
TOO_LARGE = {
    "oversized-headers",
    "endless-body",
    "endless-close-delimited",
    "huge-length",
    "interim-forever",
}


@pytest.fixture
async def hostile() -> AsyncIterator[tuple[HostileUpstream, Upstream]]:
    state, server = await start()
    port = server.sockets[0].getsockname()[1]
    transport = PooledTransport(max_connections=4, max_body_bytes=1_048_576)
    upstream = Upstream(
        transport, f"http://127.0.0.1:{port}/v1/images/generations", "k", read_timeout=0.5
    )
    yield state, upstream
    await transport.aclose()
    server.close()
    await server.wait_closed()


async def test_a_well_behaved_answer_is_read(
    hostile: tuple[HostileUpstream, Upstream],
) -> None:
    _, upstream = hostile
    answer = await upstream.generate({"prompt": "ok"}, "rid")
    assert answer.status == 201 and len(answer.body["data"]) == 1


@pytest.mark.parametrize("mode", sorted(set(MODES) - {"ok"}))
async def test_each_hostile_answer_is_an_upstream_error(
    hostile: tuple[HostileUpstream, Upstream], mode: str
) -> None:
    state, upstream = hostile
    with pytest.raises(UpstreamCallError) as failed:
        await upstream.generate({"prompt": f"{mode} please"}, "rid")
    error = failed.value.error
    assert error.type == "upstream_error"
    if mode in TIMES_OUT:
        assert (error.status, error.code, failed.value.failure) == (
            504,
            "upstream_timeout",
            Failure.TIMEOUT,
        )
    else:
        assert (error.status, error.code) == (502, "upstream_error")
        expected = Failure.TOO_LARGE if mode in TOO_LARGE else Failure.BROKEN
        assert failed.value.failure is expected
    assert state.calls == {mode: 1}
    assert (await upstream.generate({"prompt": "ok"}, "rid")).status == 201
