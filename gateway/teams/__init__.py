"""Teams: keys that share limits, budgets and a model allow-list on top of their own.

A domain package beside keys and limits: may import billing, observability, errors,
settings and the store; never web, pipeline or another domain package (keys know a team
only by its id)."""

from __future__ import annotations
