"""HTTP routes: thin handlers that parse, call a domain module, and render."""

from __future__ import annotations
