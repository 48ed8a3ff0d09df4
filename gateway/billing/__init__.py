"""Money: exact amounts, what an upstream answer says a call cost, the price table (built-in,
the operator's file, synced from the upstream's live list) and the estimated cost of a request.

The vocabulary of money every domain package may use (limits report budgets, alerts and
teams hold them), so a layer of its own below them: may import observability, errors and
settings; never the store, web, pipeline or a domain package. Estimation takes plain values
(model id, the request's fields, an image count), not registry objects.
"""

from __future__ import annotations
