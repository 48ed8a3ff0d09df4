"""Budget and quota alerts: which thresholds a key or a team crossed, the events that say so,
and their delivery to the operator's webhook off the request path.

May import observability and errors; never the store (deduplication is passed in), web or
pipeline."""

from __future__ import annotations
