"""The upstream (AIML API) client: the pooled transport, error translation, key rotation,
retries and the circuit breaker.

May import observability and errors; never the store, web or pipeline."""

from __future__ import annotations
