"""Image edit uploads: multipart/form-data read as a stream, with limits enforced while reading.

python-multipart (the parser Starlette uses) does the parsing; this module adds what an
untrusted upload needs and Starlette's form parser does not have: a cap on every file, on the
mask, on the whole upload and on each field, checked as the bytes arrive (413 then, not after);
the file type from its magic bytes, not its declared content type; files spooled to disk past
a small in-memory size, hashed as they arrive (the cache key needs each file's digest, and the
file is then never read again just for that).
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import IO

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.types import Receive

from gateway.errors import BodyTooLarge, InvalidRequest, RequestTimeout
from gateway.pipeline.disconnect import ClientGone
from gateway.settings.model import Settings
from gateway.web.deadlines import Deadlines

IMAGE_FIELDS = ("image", "image[]")
MASK_FIELD = "mask"
SNIFF_BYTES = 12


def sniff(head: bytes) -> str | None:
    """The image type of a file from its first bytes: ``png``, ``jpeg``, ``webp`` or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """What one edit request may upload (settings ``GATEWAY_UPLOAD_*``)."""

    max_files: int = 16
    max_file_bytes: int = 50 * 1024 * 1024
    max_mask_bytes: int = 4 * 1024 * 1024
    max_total_bytes: int = 128 * 1024 * 1024
    max_fields: int = 64
    max_field_bytes: int = 256 * 1024
    spool_bytes: int = 1024 * 1024
    timeout: float = 120.0

    @classmethod
    def of(cls, settings: Settings) -> UploadLimits:
        """The limits the ``GATEWAY_UPLOAD_*`` settings give."""
        return cls(
            max_files=settings.upload_max_files,
            max_file_bytes=settings.upload_max_file_bytes,
            max_mask_bytes=settings.upload_max_mask_bytes,
            max_total_bytes=settings.upload_max_total_bytes,
            max_fields=settings.upload_max_fields,
            max_field_bytes=settings.upload_max_field_bytes,
            spool_bytes=settings.upload_spool_bytes,
            timeout=settings.upload_timeout,
        )


@dataclass(slots=True)
class Upload:
    """One uploaded file: the part's field, filename and declared type as sent, what its
    bytes say it is, its size and SHA-256, and the spooled bytes themselves."""

    field: str
    filename: str | None
    content_type: str | None
    file: IO[bytes]
    kind: str | None = None
    size: int = 0
    sha256: str = ""

    def read(self) -> bytes:
        """The whole file (for encoding it once, as base64 or a multipart part)."""
        self.file.seek(0)
        return self.file.read()

    @property
    def media_type(self) -> str:
        """The detected media type (what a data URL must say)."""
        return MEDIA_TYPES.get(self.kind or "", "application/octet-stream")


@dataclass(slots=True)
class EditForm:
    """An edit request's form: fields in the order sent, and its files."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[Upload] = field(default_factory=list)

    def images(self) -> list[Upload]:
        return [upload for upload in self.files if upload.field in IMAGE_FIELDS]

    def mask(self) -> Upload | None:
        return next((upload for upload in self.files if upload.field == MASK_FIELD), None)

    def values(self) -> dict[str, str]:
        """The fields as a mapping (a field sent twice keeps its last value)."""
        return dict(self.fields)

    def close(self) -> None:
        for upload in self.files:
            upload.file.close()


class _Parts:
    """python-multipart callbacks building an :class:`EditForm` under ``limits``."""

    def __init__(self, limits: UploadLimits, charset: str) -> None:
        self.limits = limits
        self.charset = charset
        self.form = EditForm()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._content_type: bytes | None = None
        self._name = ""
        self._data = bytearray()
        self._upload: Upload | None = None
        self._digest = hashlib.sha256()
        self._head = b""
        self.inside = False

    def _text(self, raw: bytes) -> str:
        return raw.decode(self.charset, errors="replace")

    def on_part_begin(self) -> None:
        self.inside = True
        self._disposition = b""
        self._content_type = None
        self._data = bytearray()
        self._upload = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > self.limits.max_field_bytes:
            raise InvalidRequest("A multipart part header is too long.", code="invalid_multipart")

    def on_header_end(self) -> None:
        name = self._header_name.strip().lower()
        if name == b"content-disposition":
            self._disposition = self._header_value
        elif name == b"content-type":
            self._content_type = self._header_value.strip()
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _kind, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise InvalidRequest(
                "Every multipart part needs a Content-Disposition name.", code="invalid_multipart"
            )
        self._name = self._text(options[b"name"])
        if b"filename" not in options:
            if len(self.form.fields) + 1 > self.limits.max_fields:
                raise InvalidRequest(
                    f"Too many form fields: at most {self.limits.max_fields}.",
                    code="invalid_multipart",
                )
            return
        if self._name not in (*IMAGE_FIELDS, MASK_FIELD):
            raise InvalidRequest(
                f"Unexpected file field {self._name!r}: upload images as 'image' "
                "(or 'image[]' for several) and the mask as 'mask'.",
                param=self._name,
            )
        if self._name == MASK_FIELD and self.form.mask() is not None:
            raise InvalidRequest("Send at most one mask.", param="mask")
        if self._name != MASK_FIELD and len(self.form.images()) >= self.limits.max_files:
            raise InvalidRequest(
                f"Too many images: at most {self.limits.max_files} per edit.", param="image"
            )
        spool: IO[bytes] = SpooledTemporaryFile(max_size=self.limits.spool_bytes)  # noqa: SIM115
        content_type = self._text(self._content_type) if self._content_type else None
        self._upload = Upload(self._name, self._text(options[b"filename"]), content_type, spool)
        self.form.files.append(self._upload)
        self._digest = hashlib.sha256()
        self._head = b""

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        upload = self._upload
        if upload is None:
            if len(self._data) + len(chunk) > self.limits.max_field_bytes:
                raise BodyTooLarge(
                    f"The form field {self._name!r} is larger than "
                    f"{self.limits.max_field_bytes} bytes.",
                    param=self._name,
                )
            self._data += chunk
            return
        upload.size += len(chunk)
        cap = (
            self.limits.max_mask_bytes if upload.field == MASK_FIELD else self.limits.max_file_bytes
        )
        if upload.size > cap:
            param = "mask" if upload.field == MASK_FIELD else "image"
            raise BodyTooLarge(f"The {param} file is larger than {cap} bytes.", param=param)
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
        self._digest.update(chunk)
        # Chunks are at most one ASGI message (tens of KiB); writing them to the spool (memory,
        # then the page cache) takes microseconds, less than a hop to a thread would.
        upload.file.write(chunk)

    def on_part_end(self) -> None:
        self.inside = False
        upload = self._upload
        if upload is None:
            self.form.fields.append((self._name, self._text(bytes(self._data))))
            return
        upload.kind = sniff(self._head)
        upload.sha256 = self._digest.hexdigest()
        upload.file.seek(0)


def _boundary(content_type: str) -> tuple[bytes, str]:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise InvalidRequest(
            "Image edits take multipart/form-data (as the OpenAI SDKs send them), with a "
            "boundary in the Content-Type header.",
            code="invalid_multipart",
        )
    charset = options.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "utf-8"
    return options[b"boundary"], charset


async def read_form(
    receive: Receive,
    content_type: str,
    declared: str | None,
    limits: UploadLimits,
    deadlines: Deadlines,
) -> EditForm:
    """Parse an edit request's multipart body as it arrives.

    Refuses (413) as soon as the upload passes ``max_total_bytes`` (or declares more), a file
    its cap, or a field its size; (408) when the body has not arrived within
    ``limits.timeout``; (400) for a malformed body. Whatever was spooled is closed on failure.
    """
    boundary, charset = _boundary(content_type)
    if declared is not None and declared.isdigit() and int(declared) > limits.max_total_bytes:
        raise BodyTooLarge(
            f"The upload is larger than the limit of {limits.max_total_bytes} bytes.",
            param="image",
        )
    parts = _Parts(limits, charset)
    parser = python_multipart.MultipartParser(
        boundary,
        {
            "on_part_begin": parts.on_part_begin,
            "on_part_data": parts.on_part_data,
            "on_part_end": parts.on_part_end,
            "on_header_field": parts.on_header_field,
            "on_header_value": parts.on_header_value,
            "on_header_end": parts.on_header_end,
            "on_headers_finished": parts.on_headers_finished,
        },
    )
    size = 0
    try:
        with deadlines.guard(limits.timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limits.max_total_bytes:
                    raise BodyTooLarge(
                        f"The upload is larger than the limit of {limits.max_total_bytes} bytes.",
                        param="image",
                    )
                if chunk:
                    parser.write(chunk)
                if not message.get("more_body", False):
                    break
        parser.finalize()
    except TimeoutError:
        parts.form.close()
        raise RequestTimeout(
            f"The upload was not received within {limits.timeout:g} seconds."
        ) from None
    except FormParserError:
        parts.form.close()
        raise InvalidRequest("The multipart body is malformed.", code="invalid_multipart") from None
    except BaseException:
        parts.form.close()
        raise
    try:
        if parts.inside:
            raise InvalidRequest(
                "The multipart body ended inside a part.", code="invalid_multipart"
            )
        check_types(parts.form)
    except InvalidRequest:
        parts.form.close()
        raise
    return parts.form


def check_types(form: EditForm) -> None:
    """Images must be PNG, JPEG or WEBP and a mask a PNG, by their bytes (what the upstream
    accepts); a declared content type is not trusted."""
    for upload in form.images():
        if upload.kind is None:
            raise InvalidRequest(
                f"The file {upload.filename or '(unnamed)'!r} is not a PNG, JPEG or WEBP image.",
                param="image",
                code="invalid_image_format",
            )
    mask = form.mask()
    if mask is not None and mask.kind != "png":
        raise InvalidRequest(
            "The mask must be a PNG image (with an alpha channel marking what to edit).",
            param="mask",
            code="invalid_image_format",
        )
