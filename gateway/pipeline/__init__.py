"""The request pipeline: admission, cache, single-flight, upstream call, settlement.

Composes the domain packages (limits, cache, keys, models, upstream) for one request. Knows
nothing of HTTP frameworks; may import the domain packages, store, observability, errors."""

from __future__ import annotations
