"""Unique ids for requests and reservations, cheap enough to make on every request."""

from __future__ import annotations

import itertools
import os


class Ids:
    """A random 64-bit prefix per instance and a counter: unique across processes and
    replicas without a system call per id. The ids are labels, not secrets."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):08x}"
