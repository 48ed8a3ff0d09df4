"""``GET /console``: the operator console, static files shipped inside the package.

The files are read once when the app is built and served from memory by exact name, so
no request touches the file system (no path can escape the directory) and nothing is
fetched from anywhere else. Every answer carries a Content-Security-Policy that allows
only the console's own scripts and styles (no inline code, no ``eval``, no string-to-HTML
sinks under Trusted Types), no framing, no sniffing and no referrer. The console is
served only while the admin API is on, and holds no secret: it asks for the admin token
and keeps it in the tab's ``sessionStorage``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import NotFound
from gateway.web.services import services

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cache-control": "no-cache",
}
INDEX = "index.html"


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the console, ready to send."""

    body: bytes
    content_type: str
    etag: str


def _walk(folder: Traversable, prefix: str = "") -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.update(_walk(entry, f"{name}/"))
            continue
        suffix = name[name.rfind(".") :] if "." in name else ""
        content_type = CONTENT_TYPES.get(suffix)
        if content_type is None:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        found[name] = Asset(body, content_type, etag)
    return found


class Console:
    """The console's files by their path under ``/console/``."""

    def __init__(self, assets: dict[str, Asset]) -> None:
        if INDEX not in assets:
            raise ValueError(f"the console has no {INDEX}")
        self.assets = assets

    @classmethod
    def load(cls, folder: Traversable | None = None) -> Console:
        """Read every file of the package's ``web/console`` folder (or ``folder``)."""
        return cls(_walk(folder or files("gateway.web") / "console"))

    async def page(self, request: Request) -> Response:
        """``/console``: the single page."""
        return self._send(request, INDEX)

    async def asset(self, request: Request) -> Response:
        """``/console/{path}``: a script, style sheet or icon (the page for ``/console/``)."""
        return self._send(request, request.path_params["path"] or INDEX)

    def _send(self, request: Request, name: str) -> Response:
        if services(request).settings.admin_token is None:
            raise NotFound("The console is off: set GATEWAY_ADMIN_TOKEN to enable the admin API.")
        asset = self.assets.get(name)
        if asset is None:
            raise NotFound(f"Unknown console file: {name}")
        headers = {**SECURITY_HEADERS, "etag": asset.etag}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, headers=headers, media_type=asset.content_type)
