"""``GET /v1/models`` and ``GET /v1/models/{model}``: the image models the calling key may
use, in OpenAI's model-object shape, with what each can do.

Aliases are listed as models of their own (``alias_of`` names the catalogue id) so an SDK
user finds ``gpt-image-1`` where OpenAI's API has it; retrieving an alias answers with the
model it names.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import NotFound
from gateway.models.spec import ModelSpec
from gateway.store.types import KeyRecord
from gateway.web.http import bearer, json_response
from gateway.web.services import Services, services


def model_object(spec: ModelSpec, *, full: bool = False) -> dict[str, Any]:
    """OpenAI's model object, plus the family, the aliases and (``full``) capabilities."""
    found: dict[str, Any] = {
        "id": spec.id,
        "object": "model",
        "created": 0,
        "owned_by": spec.owned_by,
        "family": spec.family,
        "aliases": list(spec.aliases),
    }
    if full:
        found["capabilities"] = spec.capabilities()
    return found


async def allow_lists(svc: Services, record: KeyRecord) -> list[tuple[str, ...]]:
    """The model allow-lists that apply to a key: its own and its team's (read fresh)."""
    team = await svc.teams.of_key(record, fresh=True)
    lists = [record.models, team.models if team is not None else None]
    return [models for models in lists if models is not None]


async def list_models(request: Request) -> Response:
    """Every registry model within the key's allow-list and its team's, then every alias of
    those."""
    svc = services(request)
    record = await svc.keys.authenticate(bearer(request), fresh=True)
    request.state.key_id = record.id
    lists = await allow_lists(svc, record)
    allowed = [
        spec for spec in svc.registry.models() if all(spec.named_in(models) for models in lists)
    ]
    data = [model_object(spec) for spec in allowed]
    for spec in allowed:
        for alias in spec.aliases:
            data.append({**model_object(spec), "id": alias, "alias_of": spec.id})
    return json_response({"object": "list", "data": data})


async def retrieve_model(request: Request) -> Response:
    """One model (by id or alias) with its capabilities; 404 in OpenAI's shape if unknown
    or outside the key's allow-list."""
    svc = services(request)
    record = await svc.keys.authenticate(bearer(request), fresh=True)
    request.state.key_id = record.id
    name: str = request.path_params["model"]
    spec = svc.registry.get(name)
    lists = await allow_lists(svc, record)
    if spec is None or not all(spec.named_in(models) for models in lists):
        raise NotFound(
            f"The model {name[:100]!r} does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return json_response(model_object(spec, full=True))
