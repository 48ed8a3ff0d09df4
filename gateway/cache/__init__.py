"""The response cache: canonical cache keys, TTLs from link expiry, and single-flight.

May import store, observability and errors; never web, pipeline or another domain package."""

from __future__ import annotations
