"""The embedded store's parts, assembled by :class:`gateway.store.memory.MemoryStore`.

In memory: ``counters`` (quotas, reservations, per-minute limits, daily usage) and
``cache`` (the response LRU and single-flight locks). On disk: ``database`` runs every
SQLite statement on one writer thread (never on the event loop), ``schema`` numbers the
tables' migrations, ``lock`` keeps a second process off the store path, ``legacy``
imports the JSON store file of earlier versions. Between the two: ``records`` (keys and
teams in memory, with ``key_index`` for search, and the rules of changing them),
``changes`` (each such change written durably, then applied) and ``writes`` (what a failed
write means to ``ping``, and changes finished when their caller gives up). Imports nothing
of the gateway outside :mod:`gateway.store`.
"""

from __future__ import annotations
