"""Trouble that lasts (the upstream refusing the gateway's key, the upstream unreachable),
told to the operator once when it starts and once when it ends.

Every request it fails still has its own access-log line; this adds one warning for the
incident instead of one per request, which under load would bury everything else.
"""

from __future__ import annotations

import logging
from typing import Any


class Incidents:
    """Open incidents of one process, by kind."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._open: dict[str, str] = {}

    def report(self, kind: str, message: str, **fields: Any) -> None:
        """Warn about ``kind`` unless it is already open."""
        if kind in self._open:
            return
        self._open[kind] = message
        self._log.warning(message, extra={"fields": {"incident": kind, **fields}})

    def resolve(self, *kinds: str) -> None:
        """Close ``kinds`` (all when none is named), saying so for each one that was open."""
        if not self._open:
            return
        for kind in kinds or tuple(self._open):
            if self._open.pop(kind, None) is not None:
                self._log.info(f"resolved: {kind}", extra={"fields": {"incident": kind}})

    def is_open(self, kind: str) -> bool:
        """Whether ``kind`` was reported and not resolved since."""
        return kind in self._open
