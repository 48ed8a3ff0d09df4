"""The admin API's query strings, read into domain queries (a 400 naming the parameter
for anything out of range)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.errors import InvalidRequest
from gateway.keys.search import MAX_PAGE, MAX_UNPAGED, STATUSES, KeyQuery

MAX_TEXT = 200
INCLUDES = ("usage",)


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not value or len(value) > MAX_TEXT:
        raise InvalidRequest(f"{name} must be 1 to {MAX_TEXT} characters long.", param=name)
    return value


def key_query(params: Mapping[str, str]) -> KeyQuery:
    """``GET /admin/keys``'s ``limit``, ``after``, ``q``, ``team_id`` and ``status``."""
    raw_limit = params.get("limit")
    limit = MAX_UNPAGED
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
            raise InvalidRequest(f"limit must be an integer from 1 to {MAX_PAGE}.", param="limit")
        limit = int(raw_limit)
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.", param="status")
    q = params.get("q")
    if q is not None and len(q) > MAX_TEXT:
        raise InvalidRequest(f"q must be at most {MAX_TEXT} characters long.", param="q")
    return KeyQuery(
        limit=limit,
        after=_text(params, "after"),
        q=q or None,
        team_id=_text(params, "team_id"),
        status=status,
    )


def includes(params: Mapping[str, str]) -> set[str]:
    """What ``include=`` (comma-separated) asks to add to each object."""
    raw = params.get("include")
    if raw is None:
        return set()
    asked = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = asked - set(INCLUDES)
    if unknown or not asked:
        raise InvalidRequest(f"include takes {', '.join(INCLUDES)}.", param="include")
    return asked
