"""State storage: one small interface, an embedded (in-process) and a Redis implementation."""

from __future__ import annotations
