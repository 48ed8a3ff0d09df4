"""One warning when something starts failing and one line when it works again, not a line per
failure: a dead webhook or log store under load must not flood the logs."""

from __future__ import annotations

import logging


class Outage:
    """Tracks whether ``what`` is failing and logs only the transitions."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self.failing = False

    def failed(self, problem: str) -> None:
        if not self.failing:
            self.failing = True
            self._log.warning("%s is failing: %s", self._what, problem)

    def recovered(self) -> None:
        if self.failing:
            self.failing = False
            self._log.info("%s is working again", self._what)
