"""An edit's upstream body, built from its prepared request and its spooled files.

Nothing here reads a file: the body is a :class:`~gateway.upstream.payload.Payload` whose
file pieces are read chunk by chunk as the transport writes them. So an upload is never
held in memory whole, not even as the base64 of a data URL.

- multipart route: the prepared fields as form fields (as text: numbers as written,
  booleans as ``true``/``false``, arrays and objects as JSON), then every image under the
  field name the client used (``image`` or ``image[]``) and the mask, each with its
  filename and content type as the client sent them and its bytes as they arrived;
- JSON route: the prepared body with the model's image field added last, holding
  ``data:<type>;base64,<file>`` (one string, or an array).
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from gateway.models.adapters import PreparedRequest
from gateway.models.edit_input import EditFile, EditInput
from gateway.upstream.payload import FilePiece, Payload, Piece

ESCAPES = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})
"""What a quoted name or filename of a form part cannot hold, escaped as browsers and
httpx escape it."""


def payload(prepared: PreparedRequest) -> Payload:
    """The upstream body of a prepared edit."""
    edit = prepared.edit
    assert edit is not None
    if edit.route.kind == "multipart":
        return _multipart(prepared.upstream_body, edit)
    return _json(prepared.upstream_body, edit)


def form_text(value: Any) -> str:
    """A prepared field's value as a multipart form field's text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _part_head(boundary: str, name: str, upload: EditFile | None = None) -> bytes:
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name.translate(ESCAPES)}"'
    if upload is not None:
        filename = (upload.filename or "").translate(ESCAPES)
        kind = (upload.content_type or upload.media_type).translate(ESCAPES)
        head += f'; filename="{filename}"\r\nContent-Type: {kind}'
    return (head + "\r\n\r\n").encode()


def _multipart(body: dict[str, Any], edit: EditInput) -> Payload:
    boundary = secrets.token_hex(16)
    pieces: list[Piece] = []
    for name, value in body.items():
        pieces += (_part_head(boundary, name), form_text(value).encode(), b"\r\n")
    for upload in edit.images:
        pieces += (_part_head(boundary, upload.field, upload), FilePiece(upload.file, upload.size))
        pieces.append(b"\r\n")
    mask, field = edit.mask, edit.route.mask_field
    if mask is not None and field is not None:
        pieces += (_part_head(boundary, field, mask), FilePiece(mask.file, mask.size), b"\r\n")
    pieces.append(f"--{boundary}--\r\n".encode())
    return Payload(edit.route.path, f"multipart/form-data; boundary={boundary}", pieces)


def _json(body: dict[str, Any], edit: EditInput) -> Payload:
    head = orjson.dumps(body)
    opening = head[:-1] + (b"," if len(head) > 2 else b"") + orjson.dumps(edit.route.field)
    pieces: list[Piece] = [opening + (b":[" if edit.array else b":")]
    for index, upload in enumerate(edit.images):
        prefix = b"," if index else b""
        pieces.append(prefix + f'"data:{upload.media_type};base64,'.encode())
        pieces += (FilePiece(upload.file, upload.size, base64=True), b'"')
    pieces.append(b"]}" if edit.array else b"}")
    return Payload(edit.route.path, "application/json", pieces)
