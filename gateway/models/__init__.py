"""The model registry: specs loaded from data, and translation between OpenAI fields and
each model's own.

May import errors only (plus its data files); never the store, web or pipeline."""

from __future__ import annotations
