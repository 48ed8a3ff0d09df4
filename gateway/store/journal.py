"""The journals: the request log and the audit log, append-only and bounded.

Kept apart from :class:`gateway.store.base.Store`: they are bulk records written in batches
off the request path and read by operators, not state a request decides on. Both
implementations (Redis streams, the embedded SQLite file) pass the same contract tests.
Failures raise :class:`gateway.store.errors.StorageUnavailable`, never a driver exception;
a cursor the journal did not hand out raises :class:`BadCursor`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from gateway.store.errors import StorageError

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
ENDPOINTS = ("generations", "edits")


class BadCursor(StorageError):
    """A ``before`` cursor this journal never handed out (the caller's mistake)."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"before is not a cursor of this log: {cursor[:40]!r}.")


@dataclass(slots=True)
class RequestEntry:
    """One answered request as the request log keeps it. ``id`` is the store's (a cursor);
    ``cost_usd`` a decimal string (exact); ``prompt`` only when prompts are logged.

    Not frozen: one is built on every image request, and a frozen dataclass costs an
    ``object.__setattr__`` per field to build (about twenty times the plain one).
    """

    request_id: str
    created_at: float
    endpoint: str
    status: int
    key_id: str | None = None
    team_id: str | None = None
    model: str | None = None
    error_code: str | None = None
    images: int = 0
    cache: str | None = None
    cost_usd: str | None = None
    latency_ms: float = 0.0
    upstream_ms: float | None = None
    upstream_inference_id: str | None = None
    prompt: str | None = None
    id: str = ""

    def record(self) -> dict[str, Any]:
        """Every field but the store's ``id``, as stored (``prompt`` only when there is one)."""
        data = {
            "request_id": self.request_id,
            "created_at": self.created_at,
            "endpoint": self.endpoint,
            "status": self.status,
            "key_id": self.key_id,
            "team_id": self.team_id,
            "model": self.model,
            "error_code": self.error_code,
            "images": self.images,
            "cache": self.cache,
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
            "upstream_ms": self.upstream_ms,
            "upstream_inference_id": self.upstream_inference_id,
        }
        if self.prompt is not None:
            data["prompt"] = self.prompt
        return data

    def to_dict(self) -> dict[str, Any]:
        """The public form: the stored fields and the cursor ``id``."""
        return {"id": self.id, **self.record()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], id: str) -> RequestEntry:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["id"] = id
        return cls(**known)


def status_matches(status: int, wanted: int | str | None) -> bool:
    """``wanted`` is a code (``429``), a class (``"4xx"``) or None (any)."""
    if isinstance(wanted, int):
        return status == wanted
    if isinstance(wanted, str):
        return status // 100 == int(wanted[0])
    return True


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """A page of the request log, newest first: entries older than ``before`` (a cursor)
    matching every filter given. ``status`` is a code (``429``) or a class (``"4xx"``)."""

    key_id: str | None = None
    team_id: str | None = None
    model: str | None = None
    status: int | str | None = None
    limit: int = 50
    before: str | None = None

    def matches(self, entry: RequestEntry) -> bool:
        if self.key_id is not None and entry.key_id != self.key_id:
            return False
        if self.team_id is not None and entry.team_id != self.team_id:
            return False
        if self.model is not None and entry.model != self.model:
            return False
        return status_matches(entry.status, self.status)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin change. ``changes`` maps each changed field to ``[before, after]``; never a
    key, a hash or a token. ``actor`` is a fingerprint of the admin token, or ``config``.
    A key's entry names the key's team (after the change) in its target, so a team's
    changes can be told from the log without reading the keys."""

    at: float
    action: str
    target_kind: str
    target_id: str
    target_name: str | None
    actor: str
    changes: dict[str, Any] = field(default_factory=dict)
    source_ip: str | None = None
    request_id: str | None = None
    target_team_id: str | None = None
    id: str = ""

    def record(self) -> dict[str, Any]:
        """Every field but the store's ``id``, as stored."""
        target = {"kind": self.target_kind, "id": self.target_id, "name": self.target_name}
        if self.target_kind == "key":
            target["team_id"] = self.target_team_id
        return {
            "at": self.at,
            "action": self.action,
            "target": target,
            "changes": self.changes,
            "actor": self.actor,
            "source_ip": self.source_ip,
            "request_id": self.request_id,
        }

    def to_dict(self) -> dict[str, Any]:
        """The public form: the stored fields and the cursor ``id``."""
        return {"id": self.id, **self.record()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], id: str) -> AuditEntry:
        target = data.get("target") or {}
        return cls(
            at=float(data["at"]),
            action=str(data["action"]),
            target_kind=str(target.get("kind", "")),
            target_id=str(target.get("id", "")),
            target_name=target.get("name"),
            actor=str(data.get("actor", "")),
            changes=dict(data.get("changes") or {}),
            source_ip=data.get("source_ip"),
            request_id=data.get("request_id"),
            target_team_id=target.get("team_id"),
            id=id,
        )

    def with_id(self, id: str) -> AuditEntry:
        return replace(self, id=id)


@dataclass(frozen=True, slots=True)
class Page:
    """Entries of one page and the cursor of the next (None: this was the last)."""

    entries: list[Any]
    next_before: str | None


class Journal(abc.ABC):
    """The request log (at most ``max_requests`` entries, oldest dropped first) and the audit
    log (entries older than ``audit_retention`` seconds dropped). Nothing edits or deletes
    an entry but retention."""

    beside_store: ClassVar[bool] = False
    """Whether the journal lives on the store's own service (Redis), so that the store
    being unavailable is the journal's outage too, not a second one."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open what the journal needs."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""

    @abc.abstractmethod
    async def append_requests(self, entries: Sequence[RequestEntry]) -> None:
        """Append a batch, trimming the log to its maximum."""

    @abc.abstractmethod
    async def requests(self, query: RequestQuery) -> Page:
        """A page of matching entries, newest first."""

    @abc.abstractmethod
    def export_requests(
        self, since: float, until: float
    ) -> AsyncGenerator[list[RequestEntry], None]:
        """Every entry created in ``[since, until)``, oldest first, in batches."""

    @abc.abstractmethod
    async def append_audit(self, entry: AuditEntry, now: float) -> AuditEntry:
        """Record an admin change (dropping entries past retention); the entry with its id."""

    @abc.abstractmethod
    async def audit(self, limit: int, before: str | None = None) -> Page:
        """A page of audit entries, newest first."""
