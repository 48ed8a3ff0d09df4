"""The HTTP face: the ASGI app, its routes, body reading, access log and OpenAPI.

Owns everything that knows Starlette or ASGI. May import every package below it
(pipeline, the domain packages, store, observability, errors, settings); nothing imports it
but ``cli`` and ``testing``."""

from __future__ import annotations
