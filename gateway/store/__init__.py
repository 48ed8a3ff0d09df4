"""State storage: one small interface, an embedded (in-process) and a Redis implementation.

``base`` is the interface and ``types`` the data it passes; ``memory`` is the embedded
store, built from ``embedded`` (decisions in memory, durable state in SQLite); ``redis``
(with its parts ``redis_admission``, ``redis_cache``, ``redis_keys``, ``redis_errors`` and
``redis_connect``), ``resp`` and ``lua`` are the Redis store. Stores raise only the
storage errors of :mod:`gateway.store.errors`; driver exceptions never leave a store.
Imports nothing of the gateway outside this package: no HTTP, no settings."""

from __future__ import annotations
