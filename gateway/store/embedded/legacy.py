"""The JSON store file of earlier versions (``store.json``), imported into the database.

Existing configurations name that file (``GATEWAY_STORE_PATH=.../store.json``): such a path
now means the database beside it (``store.db``), and a JSON file found there is imported
at start-up, then renamed ``store.json.imported`` (kept as a backup, never read again).
Importing merges: keys the database lacks are added, counters keep the larger value, so
an import repeated after a crash counts nothing twice. A file that cannot be read stops
start-up instead of being skipped, so no key is lost silently.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.store.errors import StorageUnavailable
from gateway.store.types import USAGE_TTL, KeyRecord

QUOTA_TTL = 33 * 86400
"""How long imported day and month counters are kept: the file has no expiry times, and
no quota month (plus its grace day) is longer."""


def database_path(configured: Path) -> Path:
    """The database for a configured store path (``.json`` names the old format's file)."""
    return configured.with_suffix(".db") if configured.suffix == ".json" else configured


@dataclass(slots=True)
class Legacy:
    """What an old store file holds, as rows for the database."""

    path: Path
    keys: list[KeyRecord]
    secret: bytes | None
    quota: list[tuple[str, int, float]]
    usage: list[tuple[str, str, str, int, float]]

    def retire(self) -> None:
        """Rename the imported file so it is never imported again."""
        os.replace(self.path, self.path.with_name(self.path.name + ".imported"))


def read_legacy(database: Path, now: float) -> Legacy | None:
    """The old store file beside ``database``, if there is one."""
    path = database.with_suffix(".json")
    if path == database or not path.is_file():
        return None
    try:
        data = orjson.loads(path.read_bytes())
        keys = [KeyRecord.from_dict(k) for k in data.get("keys") or []]
        secret = bytes.fromhex(data["secret"]) if data.get("secret") else None
        quota = [
            (str(name), int(value), now + QUOTA_TTL)
            for name, value in (data.get("counters") or {}).items()
        ]
        usage: list[tuple[str, str, str, int, float]] = []
        for row, counters in (data.get("usage") or {}).items():
            key_id, day = str(row).rsplit(":", 1)
            expires = _day_end(day, now) + USAGE_TTL
            if expires > now:
                usage += [(key_id, day, str(n), int(v), expires) for n, v in counters.items()]
    except (OSError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise StorageUnavailable(f"the old store file {path} cannot be imported: {exc}") from None
    return Legacy(path, keys, secret, quota, usage)


def _day_end(day: str, now: float) -> float:
    """The end of a usage day (UTC; the quota time zone shifts it by hours, not days)."""
    try:
        start = datetime.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=datetime.UTC)
    except ValueError:
        return now
    return start.timestamp() + 86400
