"""The fake upstream's ``POST /v1/images/edits``: multipart as AIML's server takes it.

The form is parsed by python-multipart (through Starlette's form parser, as AIML's own
multer would take it), every field read as the number or boolean the catalogue's edit
schema says it is, and each file described as multer describes it (``fieldname``,
``originalname``, ``mimetype``, ``encoding``, ``size``): that body is what the edit
operation's published schema judges. What arrived is recorded for tests to compare with
what they sent: the fields as text, and every file's field name, filename, content type,
size, SHA-256 and (up to :data:`KEPT_BYTES`) its bytes in base64.
"""

from __future__ import annotations

import base64
import hashlib
from collections import deque
from typing import Any

from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from gateway.testing.fake_catalogue import Catalogue

EDITS = "/v1/images/edits"
KEPT_BYTES = 1_048_576
READ = 1_048_576


class BadForm(Exception):
    """The body is no multipart form the fake can read."""


def _number(text: str, kinds: set[str]) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    if value.is_integer() and ("integer" in kinds or "." not in text):
        return int(value)
    return value if "number" in kinds else text


def _as_schema_says(text: str, prop: Any) -> Any:
    """A form field's text as the type the published schema gives it."""
    branches = [prop, *prop.get("anyOf", [])] if isinstance(prop, dict) else []
    kinds = {str(b["type"]) for b in branches if isinstance(b.get("type"), str)}
    if "string" in kinds or not kinds:
        return text
    if kinds & {"integer", "number"}:
        return _number(text.strip(), kinds)
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


async def _describe(upload: UploadFile, field: str) -> tuple[dict[str, Any], dict[str, Any]]:
    digest = hashlib.sha256()
    kept = bytearray()
    size = 0
    await upload.seek(0)
    while chunk := await upload.read(READ):
        size += len(chunk)
        digest.update(chunk)
        if len(kept) < KEPT_BYTES:
            kept += chunk[: KEPT_BYTES - len(kept)]
    multer = {
        "fieldname": field,
        "originalname": upload.filename or "",
        "encoding": "7bit",
        "mimetype": upload.content_type or "application/octet-stream",
        "size": size,
    }
    seen = {
        "field": field,
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": size,
        "sha256": digest.hexdigest(),
        "data": base64.b64encode(kept).decode() if size <= KEPT_BYTES else None,
    }
    return multer, seen


async def read_edit(
    request: Request, catalogue: Catalogue, seen: deque[dict[str, Any]]
) -> dict[str, Any]:
    """The edit as its schema judges it; what arrived is appended to ``seen``."""
    try:
        form = await request.form(max_files=1000, max_fields=1000)
    except (HTTPException, MultipartParseError, ValueError) as exc:
        raise BadForm(str(exc)) from None
    try:
        fields: dict[str, str] = {}
        files: list[dict[str, Any]] = []
        images: list[dict[str, Any]] = []
        body: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields[name] = value
                continue
            multer, described = await _describe(value, name)
            files.append(described)
            if name == "mask":
                body["mask"] = multer
            else:
                images.append(multer)
        seen.append({"path": EDITS, "fields": fields, "files": files})
    finally:
        await form.close()
    props = catalogue.properties(fields.get("model"), EDITS)
    body.update({name: _as_schema_says(text, props.get(name)) for name, text in fields.items()})
    if images:
        single = len(images) == 1 and images[0]["fieldname"] == "image"
        body["image"] = images[0] if single else images
    return body
