"""Plain data passed between the domain modules and the stores.

Nothing here does I/O or knows about HTTP, so both store implementations and every domain
module can share these types without import cycles.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any

USAGE_TTL = 100 * 86400
"""Seconds a day's usage counters are kept after their last write, by every store."""


def _limit(description: str) -> Any:
    """A limit field: unlimited by default, described once for every layer that shows it."""
    return field(default=None, metadata={"description": description})


@dataclass(frozen=True, slots=True)
class Limits:
    """A key's limits; ``None`` means unlimited, ``0`` means nothing is allowed.

    The one definition of the limits a key can have: the admin API's bodies and OpenAPI
    schemas, the CLI's options and tables, declared keys, the ``GATEWAY_DEFAULT_*`` settings
    and usage reports are all derived from these fields (:data:`LIMIT_NAMES`) and their
    descriptions, so a new limit is declared here (and enforced by the stores).
    """

    rpm: int | None = _limit("Requests per minute.")
    images_per_minute: int | None = _limit("Images per minute.")
    images_per_day: int | None = _limit("Images per quota day.")
    images_per_month: int | None = _limit("Images per quota month.")

    def as_dict(self) -> dict[str, int | None]:
        """The limits by their public names."""
        return {name: getattr(self, name) for name in LIMIT_NAMES}


LIMIT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Limits))
"""The public names of the limits, in declaration order."""

LIMIT_DESCRIPTIONS: dict[str, str] = {f.name: f.metadata["description"] for f in fields(Limits)}
"""What each limit counts, for help texts and schemas."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A client key as stored: only the HMAC of the secret, never the secret itself.

    ``version`` increases on every change (update, disable, revoke). The admission step
    compares it with the stored one in the same round trip, so a change made on one replica
    takes effect on the next request everywhere even while replicas cache records in-process.
    """

    id: str
    name: str
    key_hash: str
    prefix: str
    created_at: float
    version: int = 1
    expires_at: float | None = None
    models: tuple[str, ...] | None = None
    disabled: bool = False
    revoked_at: float | None = None
    limits: Limits = field(default_factory=Limits)
    cache: bool = True
    declared: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form used by the stores (JSON) and the admin API."""
        return {
            "id": self.id,
            "name": self.name,
            "key_hash": self.key_hash,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "version": self.version,
            "expires_at": self.expires_at,
            "models": list(self.models) if self.models is not None else None,
            "disabled": self.disabled,
            "revoked_at": self.revoked_at,
            "limits": self.limits.as_dict(),
            "cache": self.cache,
            "declared": self.declared,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRecord:
        """Inverse of :meth:`to_dict`."""
        models = data.get("models")
        return cls(
            id=data["id"],
            name=data["name"],
            key_hash=data["key_hash"],
            prefix=data["prefix"],
            created_at=float(data["created_at"]),
            version=int(data.get("version", 1)),
            expires_at=data.get("expires_at"),
            models=tuple(models) if models is not None else None,
            disabled=bool(data.get("disabled", False)),
            revoked_at=data.get("revoked_at"),
            limits=Limits(**(data.get("limits") or {})),
            cache=bool(data.get("cache", True)),
            declared=bool(data.get("declared", False)),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(slots=True)
class Window:
    """The calendar position of one decision, computed by the caller from its clock.

    The stores never read a clock for limits: tests inject time through this, and every
    replica's decision about one instant is the same.
    """

    now: float
    day: str
    month: str
    day_ends_in: float
    month_ends_in: float


class Outcome(enum.Enum):
    """What the admission step decided."""

    ADMITTED = "admitted"
    HIT = "hit"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    STALE_KEY = "stale_key"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached successful answer (already normalised to OpenAI's shape)."""

    body: bytes
    stored_at: float
    expires_at: float
    images: int


def flight_lock(cache_key: str) -> str:
    """The name of the single-flight lock that guards one cache key."""
    return f"flight:{cache_key}"


@dataclass(frozen=True, slots=True)
class CacheWrite:
    """An answer to store under ``key`` as part of a settlement."""

    key: str
    entry: CacheEntry


@dataclass(slots=True)
class LimitState:
    """One limit as the ``x-ratelimit-*`` headers report it."""

    limit: int
    remaining: int
    reset: float


@dataclass(slots=True)
class AdmitRequest:
    """Everything one atomic admission decision needs (one store round trip)."""

    key_id: str
    key_version: int
    limits: Limits
    images: int
    reservation_id: str
    reservation_ttl: float
    window: Window
    cache_key: str | None = None
    flight_ttl: float | None = None


@dataclass(slots=True)
class Decision:
    """The answer of :meth:`Store.admit`.

    ``refused_by`` names the limit that refused (``rpm``, ``images_per_minute``,
    ``images_per_day``, ``images_per_month``); ``retry_after`` is in seconds, ``None`` when
    waiting cannot help (the request asks for more than the limit itself).
    ``requests`` and ``images`` describe the state after the decision: the rpm limit and the
    tightest image limit (the one with the fewest remaining), for the response headers.
    ``leader`` is true when an admitted cache miss also took the cache key's single-flight
    lock (asked for with ``AdmitRequest.flight_ttl``).
    """

    outcome: Outcome
    refused_by: str | None = None
    retry_after: float | None = None
    requests: LimitState | None = None
    images: LimitState | None = None
    cached: CacheEntry | None = None
    leader: bool = False


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """Counters of one key for one calendar day (quota time zone)."""

    day: str
    counters: dict[str, int]


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Size of the response cache."""

    entries: int
    bytes: int
