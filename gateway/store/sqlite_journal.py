"""The journals of the embedded mode: one SQLite file in WAL mode, beside the store's.

Its own file, not the store's: the logs are bulk records written in batches, and a log that
fills its disk or is locked must not stop keys or counters from being saved. The sqlite3
module blocks, so nothing here runs on the event loop: one thread owns the connection that
writes (batches of the request log, audit entries, trimming) and another the one that reads
(pages, exports), and WAL lets reads go on while a write is under way. A file that cannot be
opened, is locked past ``busy_timeout`` or is full raises StorageUnavailable; the next call
tries again, reopening the file if the connection broke.

The request log's ids are SQLite's rowids (``AUTOINCREMENT``: never reused, so a cursor
always means the same place); it is trimmed to ``max_requests`` entries after every batch.
Each filter has an index ordered by id (key, team and model, kept only for the entries that
have one, and status class; an exact status is looked for among its class), so a filtered
page reads only the rows of its filter, whatever the size of the log. Every index is
paid for on each write, so there is no other: an export walks the log in id order (the
order entries were logged, a few seconds at most from their ``created_at`` order).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from gateway.store.errors import StorageUnavailable
from gateway.store.journal import (
    AuditEntry,
    BadCursor,
    Journal,
    Page,
    RequestEntry,
    RequestQuery,
)

T = TypeVar("T")
EXPORT_BATCH = 1000
MAX_CURSOR_DIGITS = 18

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    endpoint TEXT NOT NULL,
    status INTEGER NOT NULL,
    key_id TEXT,
    team_id TEXT,
    model TEXT,
    error_code TEXT,
    images INTEGER NOT NULL,
    cache TEXT,
    cost_usd TEXT,
    latency_ms REAL NOT NULL,
    upstream_ms REAL,
    upstream_inference_id TEXT,
    prompt TEXT
);
CREATE INDEX IF NOT EXISTS requests_by_key ON requests (key_id, id) WHERE key_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_by_team ON requests (team_id, id) WHERE team_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_by_model ON requests (model, id) WHERE model IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_by_class ON requests (status / 100, id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at);
"""
INSERT = (
    "INSERT INTO requests (request_id, created_at, endpoint, status, key_id, team_id, model, "
    "error_code, images, cache, cost_usd, latency_ms, upstream_ms, upstream_inference_id, "
    "prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT = (
    "SELECT request_id, created_at, endpoint, status, key_id, team_id, model, error_code, "
    "images, cache, cost_usd, latency_ms, upstream_ms, upstream_inference_id, prompt, "
    "CAST(id AS TEXT) FROM requests"
)
EXPORT = SELECT + " WHERE id > ? AND created_at >= ? AND created_at < ? ORDER BY id LIMIT ?"
AUDIT_PAGE = "SELECT CAST(id AS TEXT), body FROM audit ORDER BY id DESC LIMIT ?"
AUDIT_PAGE_BEFORE = "SELECT CAST(id AS TEXT), body FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?"


def _row(entry: RequestEntry) -> tuple[Any, ...]:
    return (
        entry.request_id,
        entry.created_at,
        entry.endpoint,
        entry.status,
        entry.key_id,
        entry.team_id,
        entry.model,
        entry.error_code,
        entry.images,
        entry.cache,
        entry.cost_usd,
        entry.latency_ms,
        entry.upstream_ms,
        entry.upstream_inference_id,
        entry.prompt,
    )


def _cursor(before: str | None) -> int | None:
    if before is None:
        return None
    if not (before.isascii() and before.isdigit() and len(before) <= MAX_CURSOR_DIGITS):
        raise BadCursor(before)
    return int(before)


def page_sql(query: RequestQuery) -> tuple[str, list[Any]]:
    """The statement and parameters of one page of the request log, newest first.

    Only the first filter given, in the order key, team, model, status (the most selective
    first), may use its index; the others are checked on the rows it finds (a unary ``+``
    keeps SQLite from using their indexes). Without statistics SQLite would as soon walk
    the index of a status class holding most of the log as a key's.
    """
    before = _cursor(query.before)
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("key_id", query.key_id),
        ("team_id", query.team_id),
        ("model", query.model),
    ):
        if value is not None:
            clauses.append(f"{'+' if clauses else ''}{column} = ?")
            params.append(value)
    if query.status is not None:
        # The class index is on "status / 100"; an exact status is looked for among its class,
        # written "status + 0" because SQLite folds a plain "status = ?" into "status / 100",
        # which then no longer matches that index.
        wanted = query.status if isinstance(query.status, int) else None
        klass = wanted // 100 if wanted is not None else int(str(query.status)[0])
        clauses.append(f"{'+' if clauses else ''}(status / 100) = ?")
        params.append(klass)
        if wanted is not None:
            clauses.append("status + 0 = ?")
            params.append(wanted)
    if before is not None:
        clauses.append("id < ?")
        params.append(before)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return SELECT + where + " ORDER BY id DESC LIMIT ?", [*params, query.limit + 1]


def _export_batch(
    since: float, until: float, after: int, conn: sqlite3.Connection
) -> list[RequestEntry]:
    """The next entries of an export after id ``after``, in the order they were logged."""
    rows = conn.execute(EXPORT, (after, since, until, EXPORT_BATCH))
    return [RequestEntry(*row) for row in rows]


class _Connections:
    """One connection per thread: opened on first use in that thread, dropped when broken."""

    def __init__(self, path: Path | None, busy_timeout: float) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._by_role: dict[str, sqlite3.Connection] = {}

    def get(self, role: str) -> sqlite3.Connection:
        found = self._by_role.get(role)
        if found is None:
            found = self._by_role[role] = self._open(writes=role == "write")
        return found

    def _open(self, *, writes: bool) -> sqlite3.Connection:
        """The writer creates the file (0600) and its tables; a reader opens only a file
        that exists, so it never creates one with other permissions."""
        if self._path is None:
            target = ":memory:"
        elif writes:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            if not self._path.exists():
                os.close(os.open(self._path, os.O_CREAT | os.O_WRONLY, 0o600))
            target = self._path.resolve().as_uri()
        else:
            target = self._path.resolve().as_uri() + "?mode=rw"
        conn = sqlite3.connect(
            target, timeout=self._busy_timeout, isolation_level=None, uri=target != ":memory:"
        )
        try:
            if writes:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def drop(self, role: str) -> None:
        conn = self._by_role.pop(role, None)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def close(self, role: str) -> None:
        conn = self._by_role.get(role)
        if conn is not None and role == "write":
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
        self.drop(role)


class SqliteJournal(Journal):
    """Request and audit logs in one SQLite file (``path``; None keeps them in memory, in
    one thread, for tests and stores without a file)."""

    def __init__(
        self,
        path: Path | None,
        *,
        max_requests: int = 100_000,
        audit_retention: float = 365 * 86400,
        busy_timeout: float = 1.0,
    ) -> None:
        self._path = path
        self._max = max_requests
        self._retention = audit_retention
        self._connections = _Connections(path, busy_timeout)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="journal-write")
        self._reader = (
            self._writer
            if path is None
            else ThreadPoolExecutor(1, thread_name_prefix="journal-read")
        )
        self._read_role = "write" if path is None else "read"
        self._closed = False

    async def start(self) -> None:
        await self._call(self._writer, "write", lambda conn: None)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self._connections.close, "write")
        if self._reader is not self._writer:
            await loop.run_in_executor(self._reader, self._connections.close, "read")
            self._reader.shutdown(wait=False)
        self._writer.shutdown(wait=False)

    async def _call(
        self, pool: ThreadPoolExecutor, role: str, work: Callable[[sqlite3.Connection], T]
    ) -> T:
        def run() -> T:
            try:
                conn = self._connections.get(role)
            except (sqlite3.Error, OSError) as exc:
                raise StorageUnavailable(f"The journal file cannot be opened: {exc}") from None
            try:
                return work(conn)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    try:
                        conn.rollback()
                    except sqlite3.Error:
                        self._connections.drop(role)
                if not isinstance(exc, sqlite3.OperationalError):
                    self._connections.drop(role)
                raise StorageUnavailable(f"The journal failed: {exc}") from None

        if self._closed:
            raise StorageUnavailable("The journal is closed.")
        return await asyncio.get_running_loop().run_in_executor(pool, run)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._call(self._reader, self._read_role, work)

    async def append_requests(self, entries: Sequence[RequestEntry]) -> None:
        if not entries:
            return
        rows = list(entries)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT, map(_row, rows))
            newest = conn.execute("SELECT max(id) FROM requests").fetchone()[0]
            oldest = conn.execute("SELECT min(id) FROM requests").fetchone()[0]
            if newest - oldest >= self._max:
                conn.execute("DELETE FROM requests WHERE id <= ?", (newest - self._max,))
            conn.execute("COMMIT")

        await self._call(self._writer, "write", write)

    async def requests(self, query: RequestQuery) -> Page:
        sql, params = page_sql(query)

        def read(conn: sqlite3.Connection) -> list[RequestEntry]:
            return [RequestEntry(*row) for row in conn.execute(sql, params)]

        found = await self._read(read)
        if len(found) > query.limit:
            return Page(found[: query.limit], found[query.limit - 1].id)
        return Page(found, None)

    async def export_requests(
        self, since: float, until: float
    ) -> AsyncGenerator[list[RequestEntry], None]:
        after = 0
        while True:
            batch = await self._read(functools.partial(_export_batch, since, until, after))
            if not batch:
                return
            yield batch
            if len(batch) < EXPORT_BATCH:
                return
            after = int(batch[-1].id)

    async def append_audit(self, entry: AuditEntry, now: float) -> AuditEntry:
        body = orjson.dumps(entry.record()).decode()
        oldest = now - self._retention

        def write(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute("INSERT INTO audit (at, body) VALUES (?, ?)", (entry.at, body))
            conn.execute("DELETE FROM audit WHERE at < ?", (oldest,))
            conn.execute("COMMIT")
            return int(cursor.lastrowid or 0)

        return entry.with_id(str(await self._call(self._writer, "write", write)))

    async def audit(self, limit: int, before: str | None = None) -> Page:
        cursor = _cursor(before)
        sql = AUDIT_PAGE if cursor is None else AUDIT_PAGE_BEFORE
        params: tuple[Any, ...] = (limit + 1,) if cursor is None else (cursor, limit + 1)

        def read(conn: sqlite3.Connection) -> list[AuditEntry]:
            return [
                AuditEntry.from_dict(orjson.loads(body), entry_id)
                for entry_id, body in conn.execute(sql, params)
            ]

        entries = await self._read(read)
        if len(entries) > limit:
            return Page(entries[:limit], entries[limit - 1].id)
        return Page(entries, None)
