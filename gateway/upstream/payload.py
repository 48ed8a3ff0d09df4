"""Request bodies too large to build in memory: bytes and files, sent in pieces.

An image edit's body holds the uploaded files (tens of MB). Joining them into one ``bytes``
would hold every file in memory again, twice with the transport's own copy; a
:class:`Payload` instead names its pieces (small ``bytes`` such as multipart headers or a
JSON prefix, and :class:`FilePiece` files read in chunks as they are sent, as they are or
in base64), knows its length up front (so it is sent with a ``Content-Length``), and can be
iterated again from the start (a request the upstream never saw is sent once more).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import httpx

CHUNK = 3 * 65_536
"""Bytes read from a file at a time: a multiple of 3, so the base64 of the chunks, one
after the other, is the base64 of the file."""


@dataclass(frozen=True, slots=True)
class FilePiece:
    """``size`` bytes of ``file`` from its start, sent as they are or base64-encoded."""

    file: IO[bytes]
    size: int
    base64: bool = False

    @property
    def length(self) -> int:
        """How many bytes this piece adds to the body."""
        return 4 * ((self.size + 2) // 3) if self.base64 else self.size

    def chunks(self) -> Iterator[bytes]:
        """The piece, chunk by chunk, from the file's start."""
        self.file.seek(0)
        left = self.size
        while left > 0:
            chunk = self.file.read(min(CHUNK, left))
            if not chunk:
                raise httpx.LocalProtocolError("An uploaded file is shorter than it was.")
            left -= len(chunk)
            yield base64.b64encode(chunk) if self.base64 else chunk


Piece = bytes | FilePiece


class Payload(httpx.AsyncByteStream):
    """A request body for ``path`` of ``content_type``, made of ``pieces``.

    The transport writes it piece by piece under the connection's flow control
    (:meth:`gateway.upstream.connection.Connection.exchange`), so at most about one chunk
    per file is in memory at a time.
    """

    def __init__(self, path: str, content_type: str, pieces: Sequence[Piece]) -> None:
        self.path = path
        self.content_type = content_type
        self.pieces = tuple(pieces)
        self.length = sum(p.length if isinstance(p, FilePiece) else len(p) for p in self.pieces)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body from its start; consecutive ``bytes`` pieces come as one write."""
        pending: list[bytes] = []
        for piece in self.pieces:
            if not isinstance(piece, FilePiece):
                pending.append(piece)
                continue
            if pending:
                yield b"".join(pending)
                pending = []
            for chunk in piece.chunks():
                yield chunk
        if pending:
            yield b"".join(pending)
