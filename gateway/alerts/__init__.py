"""Budget and quota alerts: which thresholds a key or a team crossed, the events that say so,
and their delivery to the operator's webhook off the request path.

May import billing, observability, errors and the store's plain types and errors; never a
store itself (deduplication is passed in), web or pipeline."""

from __future__ import annotations
