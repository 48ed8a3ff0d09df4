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
