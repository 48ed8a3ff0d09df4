"""Edit uploads as the OpenAI SDKs send them: parsed as they stream in, limits enforced while
reading, types from the bytes, large files on disk."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.errors import BodyTooLarge, InvalidRequest, RequestTimeout
from gateway.pipeline.disconnect import ClientGone
from gateway.web.deadlines import Deadlines
from gateway.web.uploads import EditForm, UploadLimits, read_form, sniff

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 50
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"w" * 100

Files = list[tuple[str, tuple[str, bytes, str]]]


def encode(files: Files, data: dict[str, str] | None = None) -> tuple[str, bytes]:
    """The Content-Type and body httpx (the SDK's HTTP client) sends for these files."""
    request = httpx.Request("POST", "http://x/v1/images/edits", files=files, data=data or {})
    return request.headers["content-type"], request.read()


class Body:
    """An ASGI ``receive`` handing out ``body`` in ``chunk``-byte messages, counting them."""

    def __init__(self, body: bytes, chunk: int = 65536) -> None:
        self.parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
        self.sent = 0

    async def __call__(self) -> dict[str, Any]:
        part = self.parts[self.sent]
        self.sent += 1
        return {"type": "http.request", "body": part, "more_body": self.sent < len(self.parts)}


async def parse(
    files: Files,
    data: dict[str, str] | None = None,
    limits: UploadLimits | None = None,
    mutate: Callable[[bytes], bytes] = lambda body: body,
) -> EditForm:
    content_type, body = encode(files, data)
    return await read_form(
        Body(mutate(body)), content_type, None, limits or UploadLimits(), Deadlines()
    )


def test_sniff_knows_the_three_upstream_formats_and_nothing_else() -> None:
    assert (sniff(PNG), sniff(JPEG), sniff(WEBP)) == ("png", "jpeg", "webp")
    assert sniff(b"GIF89a...") is None
    assert sniff(b"hello, world") is None


async def test_one_image_and_fields_arrive_byte_identical_with_name_and_type() -> None:
    form = await parse(
        [("image", ("fox.png", PNG, "image/png"))],
        {"prompt": "add a hat", "model": "openai/gpt-image-1", "n": "2"},
    )
    assert form.values() == {"prompt": "add a hat", "model": "openai/gpt-image-1", "n": "2"}
    [image] = form.images()
    assert (image.field, image.filename, image.content_type) == ("image", "fox.png", "image/png")
    assert image.read() == PNG
    assert (image.kind, image.size) == ("png", len(PNG))
    assert image.sha256 == hashlib.sha256(PNG).hexdigest()
    assert form.mask() is None
    form.close()


async def test_several_images_and_a_mask() -> None:
    form = await parse(
        [
            ("image[]", ("a.png", PNG, "image/png")),
            ("image[]", ("b.jpg", JPEG, "image/jpeg")),
            ("image[]", ("c.webp", WEBP, "image/webp")),
            ("mask", ("m.png", PNG[:100], "image/png")),
        ],
        {"prompt": "p"},
    )
    assert [(u.filename, u.kind) for u in form.images()] == [
        ("a.png", "png"),
        ("b.jpg", "jpeg"),
        ("c.webp", "webp"),
    ]
    assert [u.read() for u in form.images()] == [PNG, JPEG, WEBP]
    mask = form.mask()
    assert mask is not None and mask.read() == PNG[:100]
    form.close()


async def test_a_text_file_is_refused_whatever_its_declared_type() -> None:
    with pytest.raises(InvalidRequest) as caught:
        await parse([("image", ("notes.png", b"just some text", "image/png"))])
    assert caught.value.param == "image"
    assert "notes.png" in caught.value.message


async def test_a_jpeg_mask_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        await parse(
            [("image", ("a.png", PNG, "image/png")), ("mask", ("m.jpg", JPEG, "image/jpeg"))]
        )
    assert caught.value.param == "mask"


async def test_an_oversized_file_is_refused_while_it_is_still_arriving() -> None:
    big = PNG + b"\0" * (4 * 1024 * 1024)
    content_type, body = encode([("image", ("big.png", big, "image/png"))])
    receive = Body(body, chunk=65536)
    limits = UploadLimits(max_file_bytes=1024 * 1024)
    with pytest.raises(BodyTooLarge) as caught:
        await read_form(receive, content_type, None, limits, Deadlines())
    assert caught.value.param == "image" and caught.value.status == 413
    assert receive.sent < len(receive.parts) // 2


async def test_a_declared_length_over_the_total_is_refused_before_reading() -> None:
    content_type, body = encode([("image", ("a.png", PNG, "image/png"))])
    receive = Body(body)
    with pytest.raises(BodyTooLarge):
        await read_form(receive, content_type, "999999999", UploadLimits(), Deadlines())
    assert receive.sent == 0


async def test_too_many_images_and_a_second_mask_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        await parse(
            [("image[]", (f"{i}.png", PNG, "image/png")) for i in range(3)],
            limits=UploadLimits(max_files=2),
        )
    assert caught.value.param == "image"
    with pytest.raises(InvalidRequest) as caught:
        await parse([("mask", ("m.png", PNG, "image/png")), ("mask", ("n.png", PNG, "image/png"))])
    assert caught.value.param == "mask"


async def test_an_unknown_file_field_and_a_huge_text_field_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        await parse([("picture", ("a.png", PNG, "image/png"))])
    assert caught.value.param == "picture"
    with pytest.raises(BodyTooLarge) as too_long:
        await parse(
            [("image", ("a.png", PNG, "image/png"))],
            {"prompt": "x" * 5000},
            limits=UploadLimits(max_field_bytes=1000),
        )
    assert too_long.value.param == "prompt"


async def test_malformed_and_truncated_bodies_are_400s() -> None:
    with pytest.raises(InvalidRequest) as caught:
        await parse([("image", ("a.png", PNG, "image/png"))], mutate=lambda b: b[: len(b) // 2])
    assert caught.value.code == "invalid_multipart"
    with pytest.raises(InvalidRequest):
        await read_form(Body(b"{}"), "application/json", None, UploadLimits(), Deadlines())
    with pytest.raises(InvalidRequest):
        await read_form(Body(b"x"), "multipart/form-data", None, UploadLimits(), Deadlines())


async def test_large_files_are_spooled_to_disk_not_memory() -> None:
    big = PNG + b"\0" * (3 * 1024 * 1024)
    form = await parse(
        [("image", ("big.png", big, "image/png"))], limits=UploadLimits(spool_bytes=256 * 1024)
    )
    [image] = form.images()
    assert image.file._rolled  # type: ignore[attr-defined]
    assert image.read() == big
    form.close()


async def test_a_stalled_upload_times_out_and_a_gone_client_is_noticed() -> None:
    content_type, body = encode([("image", ("a.png", PNG, "image/png"))])
    first = True

    async def stalls() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": body[:100], "more_body": True}
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")

    limits = UploadLimits(timeout=0.05)
    with pytest.raises(RequestTimeout):
        await read_form(stalls, content_type, None, limits, Deadlines(resolution=0.01))

    async def leaves() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    with pytest.raises(ClientGone):
        await read_form(leaves, content_type, None, UploadLimits(), Deadlines())
