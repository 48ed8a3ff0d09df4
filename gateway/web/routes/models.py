"""``GET /v1/models``: the image models the calling key may use, in OpenAI's list shape."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.web.http import bearer, json_response
from gateway.web.services import services


async def list_models(request: Request) -> Response:
    """Every registry model within the key's allow-list, with its family."""
    svc = services(request)
    record = await svc.keys.authenticate(bearer(request), fresh=True)
    request.state.key_id = record.id
    allowed = set(record.models) if record.models is not None else None
    data = [
        {
            "id": spec.id,
            "object": "model",
            "created": 0,
            "owned_by": spec.owned_by,
            "family": spec.family,
        }
        for spec in svc.registry.models()
        if allowed is None or spec.id in allowed
    ]
    return json_response({"object": "list", "data": data})
