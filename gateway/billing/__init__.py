"""Money: exact amounts, what an upstream answer says a call cost, the price table (built-in,
the operator's file, synced from the upstream's live list) and the estimated cost of a request.

A domain package beside limits, cache, keys, models and upstream: may import observability,
errors and settings; never the store, web, pipeline or another domain package. Estimation
takes plain values (model id, the request's fields, an image count), not registry objects.
"""

from __future__ import annotations
