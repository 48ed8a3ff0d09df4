"""State storage: one small interface, an embedded (in-process) and a Redis implementation.

Stores raise only the storage errors of :mod:`gateway.store.errors`; driver exceptions never
leave a store. Imports nothing of the gateway outside this package: no HTTP, no settings."""

from __future__ import annotations
