"""The storage errors: the only exceptions a store raises.

Driver exceptions (redis-py, sockets, files) never leave a store; the layers above decide
what a client is told (see :func:`gateway.errors.from_storage`).
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every storage error; ``message`` is safe to show an operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StorageUnavailable(StorageError):
    """The backing service did not answer (in time, or at all)."""

    def __init__(self, message: str = "The state store is unavailable.") -> None:
        super().__init__(message)


class StorageConflict(StorageError):
    """A record with the same identity exists."""


class StorageNotFound(StorageError):
    """No record with that identity."""


class StorageBug(StorageError):
    """The store refused an operation as wrong, not for want of capacity: a bug in the
    gateway, or data under its prefix that it did not write. Retrying cannot help; the
    store logs it where it is raised, and a client is told only that something went wrong."""


class StorageScriptError(StorageBug):
    """A Lua script of the store failed in the server; ``script`` names it."""

    def __init__(self, script: str, message: str) -> None:
        super().__init__(f"Lua script {script!r} failed: {message}")
        self.script = script


class StorageLocked(StorageUnavailable):
    """Another process holds the embedded store, which serves one process only.

    ``pid`` is the holder's process id when it could be read from the lock file.
    """

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid
