"""The response cache's policy: canonical keys, what may be stored, and for how long.

Storage is the store's job (:meth:`Store.cache_get` / ``cache_put``); single-flight is in
:mod:`gateway.cache.flight`. This module is pure: it decides, it does no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import orjson

DALLE_LINK_LIFETIME = 3600.0
DALLE_HOSTS = ("oaidalleapiprodscus.blob.core.windows.net", "blob.core.windows.net")


@dataclass(frozen=True, slots=True)
class CacheControl:
    """What the client's ``Cache-Control`` asks: skip the lookup, or skip the cache entirely."""

    lookup: bool = True
    store: bool = True

    @classmethod
    def parse(cls, header: str | None) -> CacheControl:
        """Read ``no-cache`` (fresh answer, still stored) and ``no-store`` (no cache at all)."""
        if not header:
            return cls()
        directives = {part.strip().split("=", 1)[0].lower() for part in header.split(",")}
        if "no-store" in directives:
            return cls(lookup=False, store=False)
        if "no-cache" in directives:
            return cls(lookup=False, store=True)
        return cls()


def cache_key(scope: str, fields: Mapping[str, Any]) -> str:
    """``<scope>:<sha256 of the canonical request>``; key order never matters.

    ``scope`` is the client key's id (per-key scope) or ``shared``; purging one key's
    entries deletes the prefix ``<key id>:``.
    """
    canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    return f"{scope}:{hashlib.sha256(canonical).hexdigest()}"


def _parse_iso(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _parse_compact(value: str) -> float | None:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


EXPIRY_FIELDS = frozenset(
    ("se", "x-amz-date", "x-amz-expires", "x-goog-date", "x-goog-expires", "expires")
)


def _expiry_fields(query: str) -> dict[str, str]:
    """The first non-empty value of each expiry-related query field (names lower-cased);
    the other fields are skipped without being decoded."""
    found: dict[str, str] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        name = name.lower()
        if name in EXPIRY_FIELDS and name not in found and value:
            value = value.replace("%3A", ":").replace("%3a", ":")
            found[name] = unquote_plus(value) if "%" in value or "+" in value else value
    return found


def url_expiry(url: str, created: float | None) -> float | None:
    """When a signed link stops working, from its query string; None if it cannot be told.

    Understands Azure SAS ``se=``, S3 ``X-Amz-Date``+``X-Amz-Expires``, GCS
    ``X-Goog-Date``+``X-Goog-Expires``, CloudFront ``Expires=``. A DALL-E blob link whose
    expiry cannot be read is taken to live 60 minutes after ``created``.
    """
    query = _expiry_fields(url.partition("?")[2].partition("#")[0])
    candidates: list[float | None] = []
    if "se" in query:
        candidates.append(_parse_iso(query["se"]))
    for vendor in ("x-amz", "x-goog"):
        start, lifetime = query.get(f"{vendor}-date"), query.get(f"{vendor}-expires")
        if start and lifetime:
            begun, seconds = _parse_compact(start), _number(lifetime)
            if begun is not None and seconds is not None:
                candidates.append(begun + seconds)
    if "expires" in query:
        candidates.append(_number(query["expires"]))
    found = [c for c in candidates if c is not None]
    if found:
        return min(found)
    if created is None:
        return None
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    return created + DALLE_LINK_LIFETIME if host.endswith(DALLE_HOSTS) else None


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How long a complete answer may be cached, and whether it may be at all."""

    ttl: float
    url_margin: float
    max_entry_bytes: int

    def expires_at(self, body: Mapping[str, Any], size: int, now: float) -> float | None:
        """When a stored copy of ``body`` must stop being served; None: do not store it."""
        if self.ttl <= 0 or size > self.max_entry_bytes:
            return None
        deadline = now + self.ttl
        created = body.get("created")
        created_at = float(created) if isinstance(created, int | float) else None
        for url in _urls(body.get("data")):
            expiry = url_expiry(url, created_at)
            if expiry is not None:
                deadline = min(deadline, expiry - self.url_margin)
        return deadline if deadline > now else None


def _urls(items: Any) -> Iterable[str]:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                yield item["url"]


def stored_body(status: int, body: bytes) -> bytes:
    """What the cache keeps of an answer: its body, after its status unless that is 200.

    A hit replays the status the upstream gave the miss (AIML answers 201). Stores keep
    the bytes as they are; a JSON object never starts with a digit, so entries stored
    before statuses were kept read back as 200, as they were answered then.
    """
    return body if status == 200 else b"%d\n%s" % (status, body)


def stored_answer(stored: bytes) -> tuple[int, bytes]:
    """Inverse of :func:`stored_body`: the status and the body to answer with."""
    if stored[:3].isdigit() and stored[3:4] == b"\n":
        return int(stored[:3]), stored[4:]
    return 200, stored


def is_complete(body: Mapping[str, Any], asked: int) -> bool:
    """Only answers holding every image asked for may be cached."""
    data = body.get("data")
    return isinstance(data, list) and len(data) >= asked > 0
