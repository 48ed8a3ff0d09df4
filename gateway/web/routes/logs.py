"""``/admin/requests`` and ``/admin/audit``: the request log and the audit log, read-only.

Both are readable with either admin token; nothing here (or anywhere in the API) edits or
deletes an entry: the logs only shrink by their retention. Pages come newest first with a
``next_before`` cursor (None on the last page). In Redis mode one page reads at most a
bounded number of entries, so a rare filter can answer a short (even empty) page whose
``next_before`` says where to go on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.errors import InvalidRequest, client_error
from gateway.store.errors import StorageError
from gateway.store.journal import (
    STATUS_CLASSES,
    BadCursor,
    Page,
    RequestEntry,
    RequestQuery,
)
from gateway.web.admin_auth import admin
from gateway.web.http import json_response

T = TypeVar("T")
DEFAULT_PAGE = 50
MAX_PAGE = 1000
MAX_TEXT = 200


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_TEXT:
        raise InvalidRequest(f"{name} must be at most {MAX_TEXT} characters long.", param=name)
    return value


def _limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_PAGE}.", param="limit")
    return int(raw)


def _status(params: Mapping[str, str]) -> int | str | None:
    raw = _text(params, "status")
    if raw is None:
        return None
    if raw.lower() in STATUS_CLASSES:
        return raw.lower()
    if raw.isascii() and raw.isdigit() and 100 <= int(raw) <= 599:
        return int(raw)
    raise InvalidRequest(
        "status must be a status code (429) or a class (1xx to 5xx).", param="status"
    )


def _time(params: Mapping[str, str], name: str, default: float) -> float:
    """Unix seconds or an ISO 8601 date-time with a time zone."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw) if raw.replace(".", "", 1).isdigit() else _iso(raw)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be unix seconds or an ISO 8601 date-time with a time zone.",
            param=name,
        ) from None


def _iso(raw: str) -> float:
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed.timestamp()


async def _paged(page: Awaitable[T]) -> T:
    """A journal page, with a cursor it never handed out answered as a 400."""
    try:
        return await page
    except BadCursor as exc:
        raise InvalidRequest(exc.message, param="before") from None


def _entry(entry: RequestEntry, prompts: bool) -> dict[str, Any]:
    """An entry's public form; the prompt only while prompts are logged."""
    data = entry.to_dict()
    if not prompts:
        data.pop("prompt", None)
    return data


def _listing(page: Page, data: list[dict[str, Any]]) -> Response:
    return json_response({"object": "list", "data": data, "next_before": page.next_before})


async def list_requests(request: Request) -> Response:
    """A page of the request log, newest first, filtered by key, team, model and status."""
    svc = admin(request)
    params = request.query_params
    query = RequestQuery(
        key_id=_text(params, "key_id"),
        team_id=_text(params, "team_id"),
        model=_text(params, "model"),
        status=_status(params),
        limit=_limit(params),
        before=_text(params, "before"),
    )
    page = await _paged(svc.journal.requests(query))
    prompts = svc.settings.request_log_prompts
    return _listing(page, [_entry(e, prompts) for e in page.entries])


async def export_requests(request: Request) -> Response:
    """Every entry created in ``[since, until)``, oldest first, as JSON lines.

    The first batch is read before the answer starts, so a log store that is down is a
    503; one that fails later ends the stream with an error line in OpenAI's shape.
    """
    svc = admin(request)
    params = request.query_params
    since = _time(params, "since", 0.0)
    until = _time(params, "until", svc.clock() + 1)
    if since >= until:
        raise InvalidRequest("since must be before until.", param="since")
    prompts = svc.settings.request_log_prompts
    batches = svc.journal.export_requests(since, until)
    first = await anext(batches, None)

    def lines(batch: list[RequestEntry]) -> bytes:
        return b"".join(orjson.dumps(_entry(e, prompts)) + b"\n" for e in batch)

    async def body() -> AsyncIterator[bytes]:
        try:
            if first is None:
                return
            yield lines(first)
            async for batch in batches:
                yield lines(batch)
        except StorageError as exc:
            yield orjson.dumps(client_error(exc).body()) + b"\n"
        finally:
            await batches.aclose()

    return StreamingResponse(body(), media_type="application/x-ndjson")


async def list_audit(request: Request) -> Response:
    """A page of the audit log, newest first."""
    svc = admin(request)
    params = request.query_params
    page = await _paged(svc.journal.audit(_limit(params), _text(params, "before")))
    return _listing(page, [e.to_dict() for e in page.entries])
