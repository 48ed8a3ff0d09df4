"""The fake upstream's money: its live price list and the cost it reports for each answer.

Kept apart from the fake's generation handling and model catalogue, as one ASGI middleware
that :func:`mount_billing` puts in front of the fake:

- ``GET /v1/models?include=pricing`` answers the price list
  (:mod:`gateway.testing.fake_price_list`; the upstream's shape:
  ``fixed`` units, ``variants``, ``variable``; ``price`` always with ``per``), with an ETag
  over the whole list and 304 for a matching ``If-None-Match``;
- every 2xx generation (and edit) answer gets ``x-aimlapi-usd-spent`` (nine decimals, like AIML's),
  ``x-aimlapi-credits-used`` (1 credit = $0.0000005), ``x-inference-id`` and
  ``meta.usage {credits_used, usd_spent}`` in the body; a sane ``X-Client-Request-Id`` is
  echoed back as AIML does. The cost is ``usd_per_image`` x images when set, else the list
  price of the request (:class:`gateway.billing.prices.PriceTable`), each field it leaves
  out at its default in the fake's catalogue (as the upstream generates it), else $0.04
  an image;
- ``POST /_control`` also takes ``usd_per_image`` (a number or string; null: list prices),
  ``cost_report`` (``"both"``, ``"header"``, ``"body"`` or ``"none"``) and ``pricing``
  (``{model: pricing or null}`` changes the published list); ``reset`` restores all;
- ``GET /_billing`` says what was charged: the total, the recent charges, and how many
  price-list requests were answered in full and with 304.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.billing.money import format_usd, parse_usd, to_decimal
from gateway.billing.price_file import ModelEntry, model_price
from gateway.billing.prices import PriceTable
from gateway.testing.fake_catalogue import Catalogue
from gateway.testing.fake_price_list import IMAGE, price_list

USD_PER_CREDIT = Decimal("0.0000005")
FALLBACK_USD_PER_IMAGE = Decimal("0.04")
CLIENT_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
EDITS = "/v1/images/edits"
IMAGE_ROUTES = (("POST", "/v1/images/generations"), ("POST", EDITS))
EDIT_BODY = "fake.edit_body"
"""Where the fake's edit endpoint leaves the edit as it read it (a multipart body is no
JSON to price from)."""


@dataclass
class BillingState:
    """How the fake charges, what it published and what it charged."""

    usd_per_image: Decimal | None = None
    cost_report: str = "both"
    catalogue: dict[str, dict[str, Any]] = field(default_factory=price_list)
    charged_nanos: int = 0
    charges: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))
    pricing_full: int = 0
    pricing_not_modified: int = 0
    _answer: tuple[bytes, str] | None = None
    _table: PriceTable | None = None

    def reset(self) -> None:
        """Back to list prices, full cost reports, the original list and nothing charged."""
        fresh = BillingState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def listing(self) -> tuple[bytes, str]:
        """The price list's body and ETag (built once per change of the list)."""
        if self._answer is None:
            data = [{"id": model, **item} for model, item in self.catalogue.items()]
            body = orjson.dumps({"object": "list", "data": data})
            self._answer = body, f'"{hashlib.sha256(body).hexdigest()[:20]}"'
        return self._answer

    def table(self) -> PriceTable:
        """The published prices as the gateway would read them (what the fake charges)."""
        if self._table is None:
            entries = []
            for model, item in self.catalogue.items():
                pricing = item.get("pricing")
                if item.get("type") == IMAGE and pricing is not None:
                    entry = ModelEntry.model_validate(pricing)
                    entries.append(model_price(model, entry))
            self._table = PriceTable([entries], parse_usd(FALLBACK_USD_PER_IMAGE))
        return self._table

    def control(self, data: dict[str, Any]) -> None:
        """Apply the billing part of a ``/_control`` body."""
        if data.get("reset"):
            self.reset()
        if "usd_per_image" in data:
            value = data["usd_per_image"]
            self.usd_per_image = None if value is None else to_decimal(parse_usd(value))
        if data.get("cost_report") in ("both", "header", "body", "none"):
            self.cost_report = data["cost_report"]
        for model, pricing in (data.get("pricing") or {}).items():
            if pricing is None:
                self.catalogue.pop(model, None)
            else:
                self.catalogue[model] = {"type": IMAGE, "pricing": pricing}
            self._answer = self._table = None

    def cost(self, body: Any, images: int, defaults: Mapping[str, Any]) -> Decimal:
        """What a generation of ``images`` images for ``body`` costs, a field the body
        leaves out priced at its default (``defaults``), as the upstream generates it: a
        gpt-image-1 request naming no quality is a medium one, not the dearest."""
        if self.usd_per_image is not None:
            return self.usd_per_image * images
        model = body.get("model") if isinstance(body, dict) else None
        fields = {**defaults, **body} if isinstance(body, dict) else {}
        nanos = self.table().estimate(str(model), fields, images).nanos
        return to_decimal(nanos)


def _matches(header: bytes, etag: str) -> bool:
    wanted = {tag.strip().removeprefix("W/") for tag in header.decode("latin-1").split(",")}
    return "*" in wanted or etag in wanted


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_all(receive: Receive) -> tuple[bytes, list[Message]]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    return b"".join(m.get("body", b"") for m in messages), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = iter(messages)

    async def again() -> Message:
        return next(pending, None) or await receive()

    return again


class FakeBilling:
    """The middleware: price list, cost reports and the billing part of ``/_control``."""

    def __init__(self, app: ASGIApp, state: BillingState, catalogue: Catalogue) -> None:
        self.app = app
        self.state = state
        self._catalogue = catalogue
        self._ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = (scope["method"], scope["path"])
        if route == ("GET", "/v1/models"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if any("pricing" in value.split(",") for value in query.get("include", [])):
                await self._price_list(scope, send)
                return
        elif route == ("GET", "/_billing"):
            await _send_json(send, 200, self._report(), [])
            return
        elif route == ("POST", "/_control"):
            raw, messages = await _read_all(receive)
            try:
                data = orjson.loads(raw or b"{}")
            except orjson.JSONDecodeError:
                data = None
            if isinstance(data, dict):
                self.state.control(data)
            receive = _replay(messages, receive)
        elif route in IMAGE_ROUTES:
            await self._generation(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _price_list(self, scope: Scope, send: Send) -> None:
        body, etag = self.state.listing()
        given = dict(scope["headers"]).get(b"if-none-match")
        headers = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
        if given is not None and _matches(given, etag):
            self.state.pricing_not_modified += 1
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        self.state.pricing_full += 1
        await _send_json(send, 200, body, headers)

    def _report(self) -> bytes:
        state = self.state
        return orjson.dumps(
            {
                "usd_spent": format_usd(state.charged_nanos),
                "charges": list(state.charges),
                "pricing_requests": state.pricing_full,
                "pricing_not_modified": state.pricing_not_modified,
            }
        )

    async def _generation(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        held: list[Message] = []

        keep = scope["path"] != EDITS

        async def recording() -> Message:
            message = await receive()
            if keep:
                chunks.append(message.get("body", b""))
            return message

        async def holding(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                for out in self._charged(scope, b"".join(chunks), held):
                    await send(out)

        await self.app(scope, recording, holding)

    def _charged(self, scope: Scope, request: bytes, held: list[Message]) -> list[Message]:
        """The held answer with the cost report added (a 2xx answer with images), else as it was."""
        start = held[0]
        if start["type"] != "http.response.start" or not 200 <= start["status"] < 300:
            return held
        raw = b"".join(m.get("body", b"") for m in held[1:])
        try:
            answer = orjson.loads(raw)
            body = scope[EDIT_BODY] if EDIT_BODY in scope else orjson.loads(request)
        except orjson.JSONDecodeError:
            return held
        items = answer.get("data", answer.get("images")) if isinstance(answer, dict) else None
        if not isinstance(items, list):
            return held
        model = body.get("model") if isinstance(body, dict) else None
        defaults = self._catalogue.defaults(model, scope["path"])
        usd = self.state.cost(body, len(items), defaults).quantize(Decimal("1e-9"), ROUND_HALF_UP)
        credits = int((usd / USD_PER_CREDIT).to_integral_value(ROUND_HALF_UP))
        inference_id = str(uuid.uuid4())
        state = self.state
        nanos = parse_usd(usd)
        state.charged_nanos += nanos
        request_headers = dict(scope["headers"])
        client_id = request_headers.get(b"x-client-request-id", b"")
        sane_id = client_id if CLIENT_REQUEST_ID.fullmatch(client_id) else None
        state.charges.append(
            {
                "n": next(self._ids),
                "inference_id": inference_id,
                "model": body.get("model") if isinstance(body, dict) else None,
                "images": len(items),
                "usd": format_usd(nanos),
                "client_request_id": sane_id.decode() if sane_id else None,
            }
        )
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        if state.cost_report in ("both", "header"):
            headers += [
                (b"x-aimlapi-usd-spent", f"{usd:.9f}".encode()),
                (b"x-aimlapi-credits-used", str(credits).encode()),
            ]
        headers.append((b"x-inference-id", inference_id.encode()))
        if sane_id:
            headers.append((b"x-client-request-id", sane_id))
        if state.cost_report in ("both", "body"):
            meta = answer.get("meta") if isinstance(answer.get("meta"), dict) else {}
            usage = dict(meta.get("usage") or {})
            usage.update(credits_used=credits, usd_spent=float(usd))
            answer["meta"] = {**meta, "usage": usage}
            raw = orjson.dumps(answer)
        headers.append((b"content-length", str(len(raw)).encode()))
        return [
            {**start, "headers": headers},
            {"type": "http.response.body", "body": raw},
        ]


def mount_billing(app: Starlette) -> BillingState:
    """Put the billing middleware in front of the fake (pricing omitted fields at the
    defaults of the fake's catalogue, ``app.state.catalogue``); its state is
    ``app.state.billing``."""
    state = BillingState()
    app.add_middleware(FakeBilling, state=state, catalogue=app.state.catalogue)
    app.state.billing = state
    return state
