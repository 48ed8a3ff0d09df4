"""Redis failures as storage errors, at the boundary of every Redis module of the store.

An outage (no connection, no reply in time, a server that is loading, read-only, out of
memory or busy) is :class:`StorageUnavailable`, which a client sees as a 503 it may retry;
any other error reply is a bug, :class:`StorageScriptError` when a script failed
(:class:`StorageBug` for a plain command), logged at error level here, where Redis's own
message is still at hand.
"""

from __future__ import annotations

import logging
from types import TracebackType

from redis.exceptions import (
    ClusterError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from gateway.store.errors import (
    StorageBug,
    StorageError,
    StorageScriptError,
    StorageUnavailable,
)

log = logging.getLogger("gateway.store")

# Error replies that say Redis cannot serve right now, not that the command was wrong
# (redis-py raises its own classes for some, with the code stripped from the message).
OUTAGE_REPLIES = frozenset(
    {
        "BUSY",
        "CLUSTERDOWN",
        "LOADING",
        "MASTERDOWN",
        "MISCONF",
        "NOAUTH",
        "NOPERM",
        "NOREPLICAS",
        "OOM",
        "READONLY",
        "TRYAGAIN",
        "WRONGPASS",
    }
)
OUTAGE_ERRORS = (ClusterError, NoPermissionError, OutOfMemoryError, ReadOnlyError, TryAgainError)


def storage_error(error: BaseException, script: str | None = None) -> StorageError | None:
    """The storage error for a Redis or socket failure (None for anything else)."""
    if isinstance(error, ResponseError) and not isinstance(error, OUTAGE_ERRORS):
        message = str(error)
        if message.split(" ", 1)[0] not in OUTAGE_REPLIES:
            if script is not None:
                log.error(
                    "Lua script failed", extra={"fields": {"script": script, "error": message}}
                )
                return StorageScriptError(script, message)
            log.error("Redis refused a command", extra={"fields": {"error": message}})
            return StorageBug(f"Redis refused a command: {message}")
    if isinstance(error, TimeoutError | RedisError | OSError):
        return StorageUnavailable(str(error) or "Redis did not answer in time.")
    return None


class guarded:  # noqa: N801 - used like a function: ``with guarded():``
    """Turn every Redis or socket failure into a storage error (see :func:`storage_error`);
    ``script`` names the Lua script run inside, for the log and the error.

    A class rather than ``contextlib.contextmanager``: it wraps every request's Redis
    call, and a generator-based context manager cost more than the call's own packing.
    """

    __slots__ = ("script",)

    def __init__(self, script: str | None = None) -> None:
        self.script = script

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is not None:
            converted = storage_error(error, self.script)
            if converted is not None:
                raise converted from error
