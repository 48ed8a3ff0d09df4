"""Logs, metrics, request ids and the clock: what every layer may use to say what happened.

Imports nothing else of the gateway (errors aside); everything may import it."""

from __future__ import annotations
