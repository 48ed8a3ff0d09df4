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


def _limit(description: str, *, money: bool = False) -> Any:
    """A limit field: unlimited by default, described once for every layer that shows it.

    A ``money`` limit is held in nano-dollars (10**-9 USD, an integer) here and in the
    stores, and shown as a decimal amount of USD by every layer above them.
    """
    return field(default=None, metadata={"description": description, "money": money})


@dataclass(frozen=True, slots=True)
class Limits:
    """A key's or a team's limits; ``None`` means unlimited, ``0`` means nothing is allowed.

    The one definition of the limits a key or a team can have: the admin API's bodies and
    OpenAPI schemas, the CLI's options and tables, declared keys, the ``GATEWAY_DEFAULT_*``
    settings and usage reports are all derived from these fields (:data:`LIMIT_NAMES`) and
    their descriptions, so a new limit is declared here (and enforced by the stores).
    Money limits (:data:`MONEY_LIMITS`) are integer nano-dollars here.
    """

    rpm: int | None = _limit("Requests per minute.")
    images_per_minute: int | None = _limit("Images per minute.")
    images_per_day: int | None = _limit("Images per quota day.")
    images_per_month: int | None = _limit("Images per quota month.")
    usd_per_day: int | None = _limit("USD that may be spent per quota day.", money=True)
    usd_per_month: int | None = _limit("USD that may be spent per quota month.", money=True)

    def as_dict(self) -> dict[str, int | None]:
        """The limits by their public names."""
        return {name: getattr(self, name) for name in LIMIT_NAMES}


LIMIT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Limits))
"""The public names of the limits, in declaration order."""

LIMIT_DESCRIPTIONS: dict[str, str] = {f.name: f.metadata["description"] for f in fields(Limits)}
"""What each limit counts, for help texts and schemas."""

MONEY_LIMITS: frozenset[str] = frozenset(f.name for f in fields(Limits) if f.metadata["money"])
"""The limits held in nano-dollars (USD budgets); the others count requests or images."""

WINDOW_LIMITS: dict[str, tuple[str, str]] = {
    "images_per_day": ("images", "day"),
    "images_per_month": ("images", "month"),
    "usd_per_day": ("spend_nanos", "day"),
    "usd_per_month": ("spend_nanos", "month"),
}
"""The day and month limits: what each counts (a usage counter) and its calendar window."""


def team_subject(team_id: str) -> str:
    """The name a team's counters and usage are kept under, beside its keys' ids (a key id
    never holds a colon, so the two cannot meet)."""
    return f"team:{team_id}"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A client key as stored: only the HMAC of the secret, never the secret itself.

    ``version`` increases on every change (update, disable, revoke, rotate). The admission
    step compares it with the stored one in the same round trip, so a change made on one
    replica takes effect on the next request everywhere even while replicas cache records
    in-process.

    A rotated key keeps its previous secret's hash in ``previous_hash`` until
    ``previous_until`` (unix seconds, the end of the rotation's grace period): the stores find
    the key by either hash, and the key service accepts the previous one only while its clock
    is before that instant, on every request, cached record or not.
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
    team_id: str | None = None
    previous_hash: str | None = None
    previous_until: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form used by the stores (JSON)."""
        return {
            "id": self.id,
            "name": self.name,
            "team_id": self.team_id,
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
            "previous_hash": self.previous_hash,
            "previous_until": self.previous_until,
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
            team_id=data.get("team_id"),
            previous_hash=data.get("previous_hash"),
            previous_until=data.get("previous_until"),
        )


@dataclass(frozen=True, slots=True)
class TeamRecord:
    """A team: keys that share limits and budgets on top of their own.

    ``version`` increases on every change, and the admission step of each of the team's
    keys compares it in the same round trip as the key's, so disabling a team (or changing
    its limits) takes effect on the next request on every replica. ``models`` narrows the
    allow-list of every key in the team (None: no narrowing).
    """

    id: str
    name: str
    created_at: float
    version: int = 1
    disabled: bool = False
    limits: Limits = field(default_factory=Limits)
    models: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form used by the stores (JSON)."""
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "version": self.version,
            "disabled": self.disabled,
            "limits": self.limits.as_dict(),
            "models": list(self.models) if self.models is not None else None,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TeamRecord:
        """Inverse of :meth:`to_dict`."""
        models = data.get("models")
        return cls(
            id=data["id"],
            name=data["name"],
            created_at=float(data["created_at"]),
            version=int(data.get("version", 1)),
            disabled=bool(data.get("disabled", False)),
            limits=Limits(**(data.get("limits") or {})),
            models=tuple(models) if models is not None else None,
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
    """Everything one atomic admission decision needs (one store round trip).

    ``cost_nanos`` is the estimated cost reserved against the money limits. With
    ``team_id`` set, the team's version is checked and its limits (``team_limits``) apply
    too, all in the same step.
    """

    key_id: str
    key_version: int
    limits: Limits
    images: int
    reservation_id: str
    reservation_ttl: float
    window: Window
    cache_key: str | None = None
    flight_ttl: float | None = None
    cost_nanos: int = 0
    team_id: str | None = None
    team_version: int = 0
    team_limits: Limits | None = None


@dataclass(slots=True)
class Decision:
    """The answer of :meth:`Store.admit`.

    ``refused_by`` names the limit that refused (one of :data:`LIMIT_NAMES`) and
    ``refused_level`` whose it is (``key`` or ``team``); ``retry_after`` is in seconds,
    ``None`` when waiting cannot help (the request asks for more than the limit itself).
    ``requests`` and ``images`` describe the state after the decision: the rpm limit and the
    tightest image limit (the one with the fewest remaining), for the response headers.
    ``leader`` is true when an admitted cache miss also took the cache key's single-flight
    lock (asked for with ``AdmitRequest.flight_ttl``). ``budget_left`` is, for a refusal by a
    USD budget, what that budget had left in nano-dollars (reservations in flight counted as
    spent; 0 when it is spent), so the refusal can say whether the budget is spent or only
    too small for this request's estimate.
    """

    outcome: Outcome
    refused_by: str | None = None
    retry_after: float | None = None
    requests: LimitState | None = None
    images: LimitState | None = None
    cached: CacheEntry | None = None
    leader: bool = False
    refused_level: str | None = None
    budget_left: int | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    """What a settlement leaves settled, for alerts: the use of the reservation's day and
    month after the step (``images:day``, ``spend_nanos:day``, ``images:month``,
    ``spend_nanos:month``), for the key and for its team. Only settled calls count (not
    reservations in flight), so each threshold is crossed by exactly one settlement.
    ``key`` is None when a retried settlement changed nothing."""

    key: dict[str, int] | None = None
    team: dict[str, int] | None = None


SETTLED_FIELDS = ("images:day", "spend_nanos:day", "images:month", "spend_nanos:month")
"""The order the stores report a subject's settled use in."""


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
