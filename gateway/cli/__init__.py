"""The ``gateway`` command: serve, keys, usage, cache, fake-upstream.

The top layer: may import anything; nothing imports it."""

from __future__ import annotations
