"""An edit's upstream body: multipart that parses back to what was uploaded, JSON whose data
URLs decode to it, each exactly as long as it says."""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator

import orjson
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser

from gateway.models.registry import Registry
from gateway.pipeline.edits import form_text, payload
from gateway.upstream.payload import CHUNK, Payload
from tests.models.test_edits import PNG, File

JPEG = b"\xff\xd8\xff" + bytes(range(256)) * 1000


async def body_of(sent: Payload) -> bytes:
    parts = [chunk async for chunk in sent]
    again = [chunk async for chunk in sent]
    assert parts == again, "a payload reads the same from its start every time"
    whole = b"".join(parts)
    assert len(whole) == sent.length
    return whole


async def parse_form(
    content_type: str, body: bytes
) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, content type, bytes) of every part, as a server reads them."""

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    form = await MultiPartParser(Headers({"content-type": content_type}), stream()).parse()
    found: list[tuple[str, str | None, str | None, bytes]] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            found.append((name, None, None, value.encode()))
        else:
            found.append((name, value.filename, value.content_type, await value.read()))
    await form.close()
    return found


async def test_multipart_edits_go_as_form_fields_and_the_files_as_sent() -> None:
    images = [File(PNG, "image[]"), File(JPEG, "image[]")]
    images[1].filename, images[1].content_type = "b.jpg", "image/jpeg"
    mask = File(PNG + b"mask", "mask")
    mask.filename, mask.content_type = 'm "1".png', None
    prepared = Registry.load().prepare_edit(
        {"model": "gpt-image-1", "prompt": "two\r\nlines", "n": "2", "background": "auto"},
        images,
        mask,
    )
    sent = payload(prepared)
    assert sent.path == "/v1/images/edits"
    parts = await parse_form(sent.content_type, await body_of(sent))
    assert parts == [
        ("model", None, None, b"openai/gpt-image-1"),
        ("prompt", None, None, b"two\r\nlines"),
        ("n", None, None, b"2"),
        ("background", None, None, b"auto"),
        ("image[]", "a.png", "image/png", PNG),
        ("image[]", "b.jpg", "image/jpeg", JPEG),
        ("mask", "m %221%22.png", "image/png", PNG + b"mask"),
    ]


async def test_json_edits_carry_the_files_as_data_urls() -> None:
    big = JPEG * 2
    assert len(big) > CHUNK
    images = [File(PNG), File(big)]
    images[1].media_type = "image/jpeg"
    prepared = Registry.load().prepare_edit(
        {"model": "google/nano-banana-edit", "prompt": "x", "n": "2"}, images, None
    )
    sent = payload(prepared)
    assert (sent.path, sent.content_type) == ("/v1/images/generations", "application/json")
    body = orjson.loads(await body_of(sent))
    assert body["num_images"] == 2 and body["model"] == "google/nano-banana-edit"
    urls = body["image_urls"]
    assert [u.split(",")[0] for u in urls] == ["data:image/png;base64", "data:image/jpeg;base64"]
    assert [base64.b64decode(u.split(",")[1]) for u in urls] == [PNG, big]
    single = Registry.load().prepare_edit(
        {"model": "flux/dev/image-to-image", "prompt": "x"}, [File()], None
    )
    assert orjson.loads(await body_of(payload(single)))["image_url"].startswith("data:image/png")


def test_form_text_writes_values_as_a_form_would() -> None:
    assert [form_text(v) for v in ("a", 2, 2.5, True, False, {"w": 1})] == [
        "a",
        "2",
        "2.5",
        "true",
        "false",
        '{"w":1}',
    ]
