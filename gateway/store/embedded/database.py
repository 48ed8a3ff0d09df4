"""The embedded store's SQLite database, every statement run on one writer thread.

A thread, because a commit waits for ``fsync`` and the event loop must never wait for a
disk. One thread, because SQLite has one writer at a time anyway and a single queue keeps
jobs in the order they were asked for: a usage read asked after a flush sees that flush.
The connection is in WAL mode with ``synchronous=FULL``: a committed write survives a
``kill -9`` and a power cut. Counters arrive as two JSON arrays encoded on the loop
(:meth:`Flush.encode`), one statement each, and SQLite runs statements without the GIL,
so the writer thread hardly ever holds it and never holds up the loop.

Every job maps SQLite and file errors to storage errors naming the database; nothing a
driver raises leaves this module.

A feature with a table of its own (request or audit logs, say) appends its ``CREATE TABLE``
to :data:`gateway.store.embedded.schema.MIGRATIONS`, writes a job here that opens
:meth:`Database.transaction`, and has the store run it with ``await db.call(job, ...)``;
many rows at a time go in as one JSON array, as :meth:`Flush.encode` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from gateway.store.embedded.legacy import Legacy, database_path, read_legacy
from gateway.store.embedded.lock import PathLock
from gateway.store.embedded.schema import migrate
from gateway.store.errors import StorageConflict, StorageError, StorageNotFound, StorageUnavailable
from gateway.store.types import USAGE_TTL, KeyRecord, TeamRecord

T = TypeVar("T")

SLICE = 128
"""Rows encoded between two turns given back to the event loop."""

SECRET = "server_secret"  # noqa: S105 - the meta row's name, not a secret
PUT_QUOTA = (
    "INSERT INTO quota (name, value, expires_at) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]') FROM json_each(?) WHERE true "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
ADD_USAGE = (
    "INSERT INTO usage (key_id, day, name, value, expires_at) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]') "
    "FROM json_each(?) WHERE true "
    "ON CONFLICT (key_id, day, name) DO UPDATE SET value = value + excluded.value, "
    "expires_at = max(expires_at, excluded.expires_at)"
)
MERGE_QUOTA = (
    "INSERT INTO quota (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) "
    "DO UPDATE SET value = max(value, excluded.value), "
    "expires_at = max(expires_at, excluded.expires_at)"
)
MERGE_USAGE = (
    "INSERT INTO usage (key_id, day, name, value, expires_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (key_id, day, name) DO UPDATE SET value = max(value, excluded.value), "
    "expires_at = max(expires_at, excluded.expires_at)"
)
INSERT_KEY = "INSERT INTO keys (id, key_hash, created_at, record) VALUES (?, ?, ?, ?)"
INSERT_TEAM = "INSERT INTO teams (id, created_at, record) VALUES (?, ?, ?)"
UPDATE_TEAM = "UPDATE teams SET record = ? WHERE id = ?"
UPDATE_KEY = "UPDATE keys SET key_hash = ?, created_at = ?, record = ? WHERE id = ?"
READ_DAY_USAGE = "SELECT key_id, name, value FROM usage WHERE day = ? AND expires_at > ?"
READ_USAGE = (
    "SELECT day, name, value FROM usage WHERE key_id = ? "
    "AND day IN (SELECT value FROM json_each(?)) AND expires_at > ?"
)


@dataclass(slots=True)
class UsageRow:
    """Usage increments of one key and day not yet written, and when they were made."""

    counts: dict[str, int]
    at: float


@dataclass(slots=True)
class Encoded:
    """A flush's rows as two JSON arrays, one statement each (see :meth:`Flush.encode`)."""

    quota: str
    usage: str


def _array(parts: list[bytes]) -> str:
    return (b"[" + b",".join(parts) + b"]").decode()


@dataclass(slots=True)
class Flush:
    """One write of counters.

    ``names`` are the quota counters changed since the last flush, their values read from
    the live ``quota`` and ``expiry`` maps when encoded (a later value is as good).
    ``usage`` holds increments the flush owns: the loop has started a new map.
    """

    names: set[str]
    quota: Mapping[str, int]
    expiry: Mapping[str, float]
    usage: dict[tuple[str, str], UsageRow]

    async def encode(self) -> Encoded:
        """The rows as JSON arrays, built on the loop :data:`SLICE` rows at a time (giving
        it back in between).

        The writer thread then runs one statement per array, which SQLite executes without
        the GIL. Python work on the writer thread would hold the GIL, and so the loop, for
        up to the interpreter's switch interval (5 ms) at a time; and every statement makes
        the writer wait for the GIL again while the loop is busy, so there are two.
        """
        quota_parts: list[bytes] = []
        quota: list[tuple[str, int, float]] = []
        for name in self.names:
            value, expires = self.quota.get(name), self.expiry.get(name)
            if value is not None and expires is not None:
                quota.append((name, value, expires))
            if len(quota) >= SLICE:
                quota_parts.append(orjson.dumps(quota)[1:-1])
                quota = []
                await asyncio.sleep(0)
        usage_parts: list[bytes] = []
        usage: list[tuple[str, str, str, int, float]] = []
        for (key_id, day), row in self.usage.items():
            expires = row.at + USAGE_TTL
            usage += [(key_id, day, name, value, expires) for name, value in row.counts.items()]
            if len(usage) >= SLICE:
                usage_parts.append(orjson.dumps(usage)[1:-1])
                usage = []
                await asyncio.sleep(0)
        if quota:
            quota_parts.append(orjson.dumps(quota)[1:-1])
        if usage:
            usage_parts.append(orjson.dumps(usage)[1:-1])
        return Encoded(_array(quota_parts), _array(usage_parts))


@dataclass(slots=True)
class Loaded:
    """The durable state read at start-up."""

    keys: list[KeyRecord]
    secret: bytes | None
    quota: list[tuple[str, int, float]]
    teams: list[TeamRecord]


def _record(record: KeyRecord | TeamRecord) -> str:
    return orjson.dumps(record.to_dict()).decode()


class Database:
    """The database at ``path`` (in memory when None), owned by one process at a time."""

    def __init__(self, path: Path | None, *, busy_timeout: float) -> None:
        self.path = database_path(path).resolve() if path is not None else None
        self.name = str(self.path) if self.path is not None else "the in-memory store"
        self._busy_timeout = busy_timeout
        self._lock = PathLock(self.path) if self.path is not None else None
        self._conn: sqlite3.Connection | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-store")

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def call(self, job: Callable[..., T], *args: Any) -> T:
        """Run ``job(*args)`` on the writer thread, after every job asked for before."""
        loop = asyncio.get_running_loop()
        try:
            done = loop.run_in_executor(self._writer, functools.partial(job, *args))
        except RuntimeError:
            raise StorageUnavailable(f"{self.name} is closed") from None
        return await done

    async def shutdown(self) -> None:
        """Close the database and release the path, after every job asked for before."""
        await self.call(self.close)
        self._writer.shutdown(wait=False)

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except StorageError:
            raise
        except (sqlite3.Error, OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageUnavailable(f"{self.name}: cannot {doing}: {exc}") from None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageUnavailable(f"{self.name} is not open")
        return self._conn

    @contextlib.contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed (durably) when the block ends without error.

        ``doing`` completes "cannot ..." in the error raised when the write fails. New
        tables' writes are jobs built on this: ``db.call(fn)`` where ``fn`` opens one.
        """
        with self._errors(doing):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def open(self, now: float) -> Loaded:
        """Lock the path, open or create the database, migrate it, import an old JSON store
        file, drop what expired, and read the durable state."""
        if self._lock is not None and self.path is not None:
            with self._errors("create its directory"):
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock.acquire()
        try:
            with self._errors("open the database"):
                self._conn = self._connect()
                migrate(self._conn, self.name)
            legacy = read_legacy(self.path, now) if self.path is not None else None
            if legacy is not None:
                self._import(legacy)
            self.prune(now)
            loaded = self._load(now)
            if legacy is not None:
                with self._errors(f"rename {legacy.path} after importing it"):
                    legacy.retire()
        except BaseException:
            self.close()
            raise
        return loaded

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:"
        if self.path is not None:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
            target = str(self.path)
        conn = sqlite3.connect(
            target, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if self.path is not None and mode != "wal":
                raise StorageUnavailable(f"{self.name}: cannot use write-ahead logging here")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("SELECT json_extract('[1]', '$[0]')")  # flushes need JSON functions
        except BaseException:
            conn.close()
            raise
        return conn

    def _import(self, legacy: Legacy) -> None:
        with self.transaction(f"import {legacy.path}") as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO keys (id, key_hash, created_at, record) VALUES (?, ?, ?, ?)",
                ((r.id, r.key_hash, r.created_at, _record(r)) for r in legacy.keys),
            )
            if legacy.secret is not None:
                row = conn.execute("SELECT value FROM meta WHERE name = ?", (SECRET,)).fetchone()
                if row is not None and bytes(row[0]) != legacy.secret:
                    raise StorageUnavailable(
                        f"{legacy.path} holds another server secret than {self.name}: its "
                        "keys would not authenticate; move one of the two files away"
                    )
                conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (SECRET, legacy.secret))
            conn.executemany(MERGE_QUOTA, legacy.quota)
            conn.executemany(MERGE_USAGE, legacy.usage)

    def _load(self, now: float) -> Loaded:
        with self._errors("read the database"):
            conn = self._connection()
            keys = [
                KeyRecord.from_dict(orjson.loads(text))
                for (text,) in conn.execute("SELECT record FROM keys ORDER BY created_at, rowid")
            ]
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (SECRET,)).fetchone()
            quota = conn.execute(
                "SELECT name, value, expires_at FROM quota WHERE expires_at > ?", (now,)
            ).fetchall()
            teams = [
                TeamRecord.from_dict(orjson.loads(text))
                for (text,) in conn.execute("SELECT record FROM teams ORDER BY created_at, rowid")
            ]
        return Loaded(keys, bytes(row[0]) if row is not None else None, quota, teams)

    def close(self) -> None:
        """Close the connection and let another process open the path."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        if self._lock is not None:
            self._lock.release()

    def insert_key(self, record: KeyRecord) -> None:
        with self.transaction("store a key") as conn:
            try:
                conn.execute(
                    INSERT_KEY, (record.id, record.key_hash, record.created_at, _record(record))
                )
            except sqlite3.IntegrityError:
                raise StorageConflict(
                    f"A key with id {record.id!r} or the same secret exists."
                ) from None

    def update_key(self, record: KeyRecord) -> None:
        with self.transaction("update a key") as conn:
            try:
                done = conn.execute(
                    UPDATE_KEY, (record.key_hash, record.created_at, _record(record), record.id)
                )
            except sqlite3.IntegrityError:
                raise StorageConflict("Another key has the same secret.") from None
            if done.rowcount == 0:
                raise StorageNotFound(f"No key with id {record.id!r}.")

    def insert_team(self, record: TeamRecord) -> None:
        with self.transaction("store a team") as conn:
            try:
                conn.execute(INSERT_TEAM, (record.id, record.created_at, _record(record)))
            except sqlite3.IntegrityError:
                raise StorageConflict(f"A team with id {record.id!r} exists.") from None

    def update_team(self, record: TeamRecord) -> None:
        with self.transaction("update a team") as conn:
            if conn.execute(UPDATE_TEAM, (_record(record), record.id)).rowcount == 0:
                raise StorageNotFound(f"No team with id {record.id!r}.")

    def delete_team(self, team_id: str) -> None:
        with self.transaction("delete a team") as conn:
            conn.execute("DELETE FROM teams WHERE id = ?", (team_id,))

    def server_secret(self, candidate: bytes) -> bytes:
        with self.transaction("store the server secret") as conn:
            conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (SECRET, candidate))
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (SECRET,)).fetchone()
        return bytes(row[0])

    def flush(self, rows: Encoded) -> None:
        with self.transaction("write counters") as conn:
            conn.execute(PUT_QUOTA, (rows.quota,))
            conn.execute(ADD_USAGE, (rows.usage,))

    def probe(self) -> None:
        """Take and release the write lock: raises while the database cannot be written."""
        with self.transaction("write"):
            pass

    def usage(self, key_id: str, days: list[str], now: float) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        with self._errors("read usage"):
            rows = self._connection().execute(
                READ_USAGE, (key_id, orjson.dumps(days).decode(), now)
            )
            for day, name, value in rows:
                found.setdefault(day, {})[name] = int(value)
        return found

    def usage_of_day(self, day: str, now: float) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        with self._errors("read usage"):
            for key_id, name, value in self._connection().execute(READ_DAY_USAGE, (day, now)):
                found.setdefault(key_id, {})[name] = int(value)
        return found

    def prune(self, now: float) -> None:
        """Delete the counters and usage that have expired."""
        with self.transaction("drop expired counters") as conn:
            conn.execute("DELETE FROM quota WHERE expires_at <= ?", (now,))
            conn.execute("DELETE FROM usage WHERE expires_at <= ?", (now,))
