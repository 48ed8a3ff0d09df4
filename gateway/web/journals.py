"""The request log and the audit log of a running gateway: which journal, and its writers.

Redis mode keeps both logs on the store's Redis (its own connections, so a batch being
written never holds a connection a request is waiting for); the embedded mode keeps them in
a SQLite file of their own, ``journal.sqlite3`` beside the store's database (its own file
and threads: a log that is locked or full never holds up the store's writes). A journal
that cannot be opened at start-up does not stop the gateway: it is logged, and every
write tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gateway.observability.audit_trail import AuditTrail
from gateway.observability.clock import Clock
from gateway.observability.metrics import Metrics
from gateway.observability.recorder import Recorder
from gateway.observability.request_log import RequestLog
from gateway.settings.model import JOURNAL_FILE, Settings
from gateway.store.base import Store
from gateway.store.errors import StorageError
from gateway.store.journal import Journal

log = logging.getLogger("gateway.journal")


def build_journal(settings: Settings, store: Store | None = None) -> Journal:
    """The journal beside the store: on its Redis when GATEWAY_REDIS_URL is set (and the
    store is not an embedded one passed in), else a SQLite file next to the embedded store's
    database, or in memory for an in-memory store (tests) or any other store passed in."""
    from gateway.store.memory import MemoryStore

    retention = settings.audit_retention_days * 86400
    if settings.redis_url is not None and not isinstance(store, MemoryStore):
        from gateway.store.redis_connect import connect
        from gateway.store.redis_journal import RedisJournal

        return RedisJournal(
            connect(
                settings.redis_url.get_secret_value(),
                socket_timeout=settings.redis_socket_timeout,
                connect_timeout=settings.redis_connect_timeout,
            ),
            max_requests=settings.request_log_max_entries,
            audit_retention=retention,
        )
    from gateway.store.sqlite_journal import SqliteJournal

    path: Path | None = settings.journal_path
    if isinstance(store, MemoryStore):
        database = store.database.path
        path = database.parent / JOURNAL_FILE if database is not None else None
    elif store is not None:
        path = None
    return SqliteJournal(
        path, max_requests=settings.request_log_max_entries, audit_retention=retention
    )


@dataclass(slots=True)
class Logs:
    """The journal and what writes to it."""

    journal: Journal
    recorder: Recorder | None
    request_log: RequestLog
    audit: AuditTrail

    @classmethod
    async def start(
        cls, settings: Settings, journal: Journal, clock: Clock, metrics: Metrics
    ) -> Logs:
        try:
            await journal.start()
        except StorageError as exc:
            log.warning("the request and audit logs cannot be opened yet: %s", exc.message)
        recorder = None
        if settings.request_log_enabled:
            dropped = metrics.request_log_dropped

            def on_dropped(count: int, reason: str) -> None:
                metrics.child(dropped, reason).inc(count)

            recorder = Recorder(journal, on_dropped=on_dropped)
            recorder.start()
        audit = AuditTrail(journal, clock, on_deferred=metrics.audit_deferred.inc)
        audit.start()
        request_log = RequestLog(recorder, clock, prompts=settings.request_log_prompts)
        return cls(journal, recorder, request_log, audit)

    async def aclose(self) -> None:
        """Write what is still buffered (within the writers' shutdown time) and close."""
        if self.recorder is not None:
            await self.recorder.aclose()
        await self.audit.aclose()
        try:
            await self.journal.aclose()
        except StorageError as exc:
            log.warning("the journal did not close cleanly: %s", exc.message)
