"""``gateway requests`` and ``gateway audit``: the request log and the audit log in a terminal.

Both read the running gateway's admin API (``--url``, env ``GATEWAY_URL``) with
``GATEWAY_ADMIN_TOKEN``, or ``GATEWAY_ADMIN_READONLY_TOKEN`` when only that one is set:
reading is all they do. They print the newest ``--limit`` entries with the newest last, as
``tail`` does, so ``--follow`` simply goes on below; ``--json`` prints one JSON object per
line (the API's form), which scripts can read while following too.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import click
import httpx
import orjson

from gateway.cli.admin_client import AdminClient, AdminError
from gateway.cli.common import fail, key_id_of, team_id_of, url_option
from gateway.cli.tables import table
from gateway.keys.material import ID_FORMAT as KEY_ID_FORMAT
from gateway.teams.service import ID_FORMAT as TEAM_ID_FORMAT

FOLLOW_INTERVAL = 1.0
FOLLOW_PAGES = 10
FOLLOW_PAGE_SIZE = 100
REMEMBERED = 10_000
REQUEST_COLUMNS = (
    ("TIME", 19),
    ("STATUS", 6),
    ("KEY", 22),
    ("MODEL", 24),
    ("CACHE", 6),
    ("IMAGES", 6),
    ("MS", 9),
    ("UPSTREAM", 9),
    ("COST", 11),
    ("ERROR", 22),
    ("REQUEST ID", 0),
)


class LogClient(AdminClient):
    """The admin API's two logs."""

    def requests(self, params: dict[str, Any]) -> Any:
        """GET /admin/requests."""
        return self._request("GET", "/admin/requests", params=params)

    def audit(self, params: dict[str, Any]) -> Any:
        """GET /admin/audit."""
        return self._request("GET", "/admin/audit", params=params)


def _client(url: str) -> LogClient:
    token = os.environ.get("GATEWAY_ADMIN_TOKEN") or os.environ.get("GATEWAY_ADMIN_READONLY_TOKEN")
    if not token:
        fail("set GATEWAY_ADMIN_TOKEN (or GATEWAY_ADMIN_READONLY_TOKEN) to read the logs")
    return LogClient(url, token)


def _get(fetch: Callable[[dict[str, Any]], Any], params: dict[str, Any]) -> Any:
    try:
        return fetch({k: v for k, v in params.items() if v is not None})
    except AdminError as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        fail(f"cannot reach the gateway: {type(exc).__name__}")


def _when(seconds: Any) -> str:
    return datetime.fromtimestamp(float(seconds), UTC).strftime("%Y-%m-%d %H:%M:%S")


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _cells(row: list[str]) -> str:
    parts = []
    for (_, width), cell in zip(REQUEST_COLUMNS, row, strict=True):
        if width and len(cell) > width:
            cell = cell[: width - 1] + "…"
        parts.append(cell.ljust(width))
    return "  ".join(parts).rstrip()


def request_header() -> str:
    """The request table's header (fixed widths, so followed rows line up under it)."""
    return _cells([name for name, _ in REQUEST_COLUMNS])


def request_line(entry: dict[str, Any]) -> str:
    """One request-log entry as a table row."""
    key = entry.get("key_id") or "-"
    if entry.get("team_id"):
        key = f"{key} ({entry['team_id']})"
    upstream = entry.get("upstream_ms")
    return _cells(
        [
            _when(entry["created_at"]),
            str(entry["status"]),
            key,
            _text(entry.get("model")),
            _text(entry.get("cache")),
            str(entry.get("images", 0)),
            f"{entry.get('latency_ms', 0):.1f}",
            "-" if upstream is None else f"{upstream:.1f}",
            "-" if entry.get("cost_usd") is None else f"${entry['cost_usd']}",
            _text(entry.get("error_code")),
            entry["request_id"],
        ]
    )


def _value(value: Any) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, str) else value


def audit_line(entry: dict[str, Any]) -> list[str]:
    """One audit entry as table cells."""
    target = entry["target"]
    what = f"{target['kind']} {target['id']}"
    if target.get("name"):
        what += f" ({target['name']})"
    changes = "; ".join(
        f"{field}: {_value(before)} -> {_value(after)}"
        for field, (before, after) in entry["changes"].items()
    )
    return [_when(entry["at"]), entry["action"], what, entry["actor"], changes or "-"]


def _emit(entries: list[dict[str, Any]], as_json: bool) -> None:
    for entry in entries:
        click.echo(orjson.dumps(entry).decode() if as_json else request_line(entry))


def _newer(client: LogClient, params: dict[str, Any], seen: set[str]) -> list[dict[str, Any]]:
    """Entries not seen yet, newest first, paging back until a seen one (or a bound)."""
    fresh: list[dict[str, Any]] = []
    before = None
    for _ in range(FOLLOW_PAGES):
        page = _get(client.requests, {**params, "limit": FOLLOW_PAGE_SIZE, "before": before})
        new = [e for e in page["data"] if e["id"] not in seen]
        fresh += new
        if not page["data"] or len(new) < len(page["data"]) or page["next_before"] is None:
            break
        before = page["next_before"]
    return fresh


def _remember(seen: set[str], order: deque[str], entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        if len(order) == order.maxlen:
            seen.discard(order[0])
        order.append(entry["id"])
        seen.add(entry["id"])


def follow(
    client: LogClient, params: dict[str, Any], shown: list[dict[str, Any]], as_json: bool
) -> Iterator[None]:
    """After ``shown``, print new entries as they come, oldest first; one poll per step."""
    seen: set[str] = set()
    order: deque[str] = deque(maxlen=REMEMBERED)
    _remember(seen, order, shown)
    while True:
        yield
        fresh = list(reversed(_newer(client, params, seen)))
        _remember(seen, order, fresh)
        _emit(fresh, as_json)


json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
limit_option = click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="How many."
)


def _filter_id(
    client: LogClient, ref: str | None, generated: re.Pattern[str], find: Callable[..., str]
) -> str | None:
    """The id a ``--key`` or ``--team`` filter names. A generated id is taken as given (the
    log keeps the requests of a team since deleted); any other is looked up as the key and
    team commands do, so a name nobody has is an error rather than an empty table."""
    if ref is None or generated.fullmatch(ref):
        return ref
    return find(client, ref)


@click.command("requests")
@click.option("--key", "key_id", help="Only this key's requests (its id, or its unique name).")
@click.option("--team", "team_id", help="Only this team's requests (its id, or its unique name).")
@click.option("--model", help="Only this model's requests.")
@click.option("--status", help="A status code (429) or a class (4xx).")
@limit_option
@click.option(
    "--follow", "-f", "following", is_flag=True, help="Keep printing new requests as they come."
)
@url_option
@json_option
def requests_command(
    key_id: str | None,
    team_id: str | None,
    model: str | None,
    status: str | None,
    limit: int,
    following: bool,
    url: str,
    as_json: bool,
) -> None:
    """The request log: the newest requests, newest last."""
    client = _client(url)
    params = {
        "key_id": _filter_id(client, key_id, KEY_ID_FORMAT, key_id_of),
        "team_id": _filter_id(client, team_id, TEAM_ID_FORMAT, team_id_of),
        "model": model,
        "status": status,
        "limit": limit,
    }
    shown = _get(client.requests, params)["data"]
    if not as_json:
        click.echo(request_header())
    _emit(list(reversed(shown)), as_json)
    if not following:
        return
    # Ctrl-C ends the follow even when the shell that started it ignores SIGINT (as
    # non-interactive shells do for background commands, and a child inherits), and so
    # does SIGTERM.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        for _ in follow(client, params, shown, as_json):
            time.sleep(FOLLOW_INTERVAL)
    except KeyboardInterrupt:
        return


@click.command("audit")
@limit_option
@url_option
@json_option
def audit_command(limit: int, url: str, as_json: bool) -> None:
    """The audit log: the newest admin changes, newest last."""
    entries = list(reversed(_get(_client(url).audit, {"limit": limit})["data"]))
    if as_json:
        for entry in entries:
            click.echo(orjson.dumps(entry).decode())
        return
    headers = ["TIME", "ACTION", "TARGET", "ACTOR", "CHANGES"]
    click.echo(table(headers, [audit_line(e) for e in entries]))
