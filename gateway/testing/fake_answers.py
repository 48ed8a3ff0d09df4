"""What the fake AI/ML API answers with: small real PNGs in the upstream's answer shapes,
and AIML's error body.

Kept apart from the fake's routes (:mod:`gateway.testing.fake_upstream`) so that a test
or a benchmark that needs a real image (:func:`tiny_png`) takes it from here. Images come
as base64 or as signed-looking links (``st``/``se`` times like Azure's blob links, a
unique name per image) to the fake's own ``/files/``; the answer shape is the current one
(``{"data"}``) or an older one a test asks for (``SHAPES``).
"""

from __future__ import annotations

import base64
import itertools
import os
import struct
import time
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import Response

SHAPES = ("current", "openai", "images", "choices")

DEFAULT_MESSAGES = {
    400: "Body validation error!",
    401: "Invalid API key",
    403: "You are out of credits",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
    504: "Generation timeout",
}


def tiny_png(seed: int) -> bytes:
    """A valid 4x4 PNG whose colour depends on ``seed``."""
    colour = bytes((seed >> s) & 0xFF for s in (0, 8, 16))
    raw = b"".join(b"\x00" + colour * 4 for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def aiml_error(status: int, message: str) -> Response:
    """An error in AIML's shape (``message``, ``statusCode``, a request id and time)."""
    body = {
        "message": message,
        "path": "/v1/images/generations",
        "requestId": uuid.uuid4().hex,
        "statusCode": status,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return Response(orjson.dumps(body), status, media_type="application/json")


def _wants_b64(body: dict[str, Any]) -> bool:
    return body.get("response_format") == "b64_json" or body.get("convert_base64_to_url") is False


class Images:
    """The fake's sixteen PNGs, and the answers built from them."""

    def __init__(self) -> None:
        self.pngs = [tiny_png(i * 2654435761) for i in range(16)]
        self._b64s = [base64.b64encode(p).decode() for p in self.pngs]
        self._ids = itertools.count(1)
        self._stamps: dict[tuple[int, int], tuple[str, str]] = {}

    def png(self, name: str) -> bytes:
        """The image a link's file ``name`` (``img-…-<index>``) stands for."""
        index = int(name.rsplit("-", 1)[-1]) if name.rsplit("-", 1)[-1].isdigit() else 0
        return self.pngs[index % 16]

    def url(self, host: str, created: int, index: int, expiry_seconds: int) -> str:
        """A signed-looking link to image ``index``, valid from ``created`` for
        ``expiry_seconds``, unique to this call (and process)."""
        window = self._stamps.get((created, expiry_seconds))
        if window is None:
            fmt = "%Y-%m-%dT%H:%M:%SZ"
            start = datetime.fromtimestamp(created, UTC).strftime(fmt)
            end = datetime.fromtimestamp(created + expiry_seconds, UTC).strftime(fmt)
            self._stamps.clear()
            window = self._stamps[created, expiry_seconds] = (quote(start), quote(end))
        unique = f"{next(self._ids):012x}{os.getpid():08x}"
        return (
            f"http://{host}/files/img-{unique}-{index}.png?st={window[0]}"
            f"&se={window[1]}&sp=r&sv=2024-08-04&sr=b&sig={unique[::-1]}"
        )

    def answer(
        self, body: dict[str, Any], count: int, host: str, shape: str, expiry_seconds: int
    ) -> dict[str, Any]:
        """``count`` images for a valid ``body`` (picked by its prompt, as base64 when it
        asks so, else as links on ``host``), in ``shape``."""
        created = int(time.time())
        seed = zlib.crc32(str(body.get("prompt")).encode())
        b64 = _wants_b64(body)
        images = [(seed + i) % 16 for i in range(count)]

        def url(index: int) -> str:
            return self.url(host, created, index, expiry_seconds)

        items = [{"b64_json": self._b64s[i]} if b64 else {"url": url(i)} for i in images]
        if shape == "openai":
            return {"created": created, "data": items}
        if shape == "images":
            return {
                "images": [
                    {**item, "width": 4, "height": 4, "content_type": "image/png"} for item in items
                ],
                "seed": seed,
                "timings": {"inference": 0.01},
                "has_nsfw_concepts": [False] * count,
                "prompt": body.get("prompt"),
            }
        if shape == "choices":
            return {
                "output": {
                    "choices": [
                        {"image_base64": self._b64s[i]} if b64 else {"url": url(i)} for i in images
                    ]
                },
            }
        return {"data": items}
