"""An OpenAI-compatible gateway for image generation APIs."""

from __future__ import annotations

__version__ = "0.1.0"
