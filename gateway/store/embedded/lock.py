"""One process per store path: an exclusive ``flock`` on a lock file beside the database.

The kernel drops the lock when its holder exits, however it exits (``kill -9`` included),
so a crashed gateway never leaves a stale lock behind. The holder writes its pid into the
file, so a refused process can say which one holds the store. The file is never deleted:
a process that opened it just before the deletion would lock a file nobody else sees.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from gateway.store.errors import StorageLocked, StorageUnavailable


class PathLock:
    """The exclusive lock of one store path, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, store: Path) -> None:
        self._store = store
        self._path = store.with_name(store.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise :class:`StorageLocked` naming the holder's pid."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StorageUnavailable(
                f"cannot create the lock file {self._path}: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pid = _holder(fd)
            os.close(fd)
            held_by = f"pid {pid}" if pid is not None else "pid unknown"
            raise StorageLocked(
                f"{self._store} is in use by another gateway process ({held_by})", pid
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let another process open the store."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _holder(fd: int) -> int | None:
    """The pid the holder wrote, or None while it has not written it yet."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
