"""What the fake upstream knows of AIML's models: the catalogue file, read on its own.

The fake judges requests with the catalogue's published schemas as they are (OpenAPI 3.0
schema objects, read as JSON Schema draft 4, which shares their ``exclusiveMinimum``), not
with the gateway's registry: a translation bug in the gateway then shows up as a refusal,
the way the real upstream would refuse it. A body is accepted when any of the model's
documents for the path accepts it.

It also serves the live catalogue (``GET /v1/models`` with an ETag, each model's
``docs-json`` OpenAPI document) built from the same file, for ``gateway models sync``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import orjson

IMAGE_TYPE = "openai/image-generations"
GENERATE = "/v1/images/generations"
UPSTREAM_ALIASES = {
    "openai/gpt-image-1": ["gpt-image-1"],
    "openai/gpt-image-1-mini": ["gpt-image-1-mini"],
    "openai/gpt-image-2": ["gpt-image-2"],
    "google/nano-banana-pro": ["nano-banana-pro"],
}
OTHER_MODELS = [
    {"id": "gpt-4o", "type": "chat-completion", "aliases": [], "tags": ["chat"]},
    {"id": "kling-video/v2", "type": "video", "aliases": [], "tags": ["video"]},
]


def catalogue_bytes() -> bytes:
    """The catalogue shipped with the fake (a copy of AIML's condensed documents)."""
    return resources.files("gateway.testing").joinpath("data/aiml-catalog.json").read_bytes()


@dataclass
class Catalogue:
    """Operations by model and path, their compiled validators, and the live listing."""

    operations: list[dict[str, Any]]
    checks: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    extra_aliases: dict[str, list[str]] = field(default_factory=dict)
    shipped: int = 0

    @classmethod
    def load(cls) -> Catalogue:
        """The shipped catalogue, compiled."""
        data = orjson.loads(catalogue_bytes())
        catalogue = cls(list(data["operations"]), shipped=len(data["operations"]))
        catalogue.compile()
        return catalogue

    def reset(self) -> None:
        """Back to the shipped catalogue (models added by tests removed)."""
        if len(self.operations) > self.shipped or self.extra_aliases:
            del self.operations[self.shipped :]
            self.extra_aliases.clear()
            self.compile()

    def compile(self) -> None:
        """(Re)build every validator."""
        self.checks = {}
        for op in self.operations:
            check = jsonschema_rs.Draft4Validator(op["request"], validate_formats=False)
            for model in op["models"]:
                self.checks.setdefault((model, op["path"]), []).append(check)

    def add(self, model: str, request: dict[str, Any], aliases: list[str]) -> None:
        """A new model, as AIML adds one (for ``models sync`` tests)."""
        self.operations.append(
            {
                "source": f"new/{model}.json",
                "path": GENERATE,
                "method": "POST",
                "content_type": "application/json",
                "models": [model],
                "request": request,
                "responses": {},
            }
        )
        if aliases:
            self.extra_aliases[model] = aliases
        self.compile()

    def models(self) -> list[str]:
        """Every model id, in catalogue order."""
        return list(dict.fromkeys(m for op in self.operations for m in op["models"]))

    def knows(self, model: Any) -> bool:
        """Whether ``model`` is a catalogue id."""
        return isinstance(model, str) and (model, GENERATE) in self.checks

    def accepts(self, body: Any, path: str = GENERATE) -> bool:
        """Whether any of the model's documents for ``path`` accepts ``body``."""
        model = body.get("model") if isinstance(body, dict) else None
        checks = self.checks.get((model, path), []) if isinstance(model, str) else []
        return any(check.is_valid(body) for check in checks)

    def properties(self, model: Any, path: str) -> dict[str, Any]:
        """The fields every published schema of ``model`` for ``path`` names."""
        found: dict[str, Any] = {}
        for op in self.operations:
            if model in op["models"] and op["path"] == path:
                found.update(op["request"].get("properties") or {})
        return found

    def defaults(self, model: Any, path: str) -> dict[str, Any]:
        """The published default of each field of ``model``'s schemas for ``path``: what the
        upstream generates (and charges) for a field the request leaves out."""
        return {
            name: schema["default"]
            for name, schema in self.properties(model, path).items()
            if isinstance(schema, dict) and "default" in schema
        }

    def request_schema(self, model: str) -> dict[str, Any]:
        """The first published generation schema of ``model``."""
        return next(
            op["request"]
            for op in self.operations
            if model in op["models"] and op["path"] == GENERATE
        )

    def aliases(self, model: str) -> list[str]:
        """The aliases the live catalogue lists for ``model``."""
        return UPSTREAM_ALIASES.get(model, []) + self.extra_aliases.get(model, [])

    def listing(self, base: str) -> dict[str, Any]:
        """``GET /v1/models``: every model, image ones with their ``docsJson`` link."""
        data: list[dict[str, Any]] = [
            {
                "id": model,
                "type": IMAGE_TYPE,
                "aliases": self.aliases(model),
                "tags": ["image-generation"],
                "info": {
                    "docsJson": f"{base}/docs-json?model={quote(model, safe='')}"
                    f"&endpoint={quote(IMAGE_TYPE, safe='')}"
                },
            }
            for model in self.models()
        ]
        return {"object": "list", "data": data + [dict(m) for m in OTHER_MODELS]}

    def etag(self) -> str:
        """One ETag for the whole catalogue: it changes when any model does."""
        digest = hashlib.sha256(orjson.dumps([self.operations, self.extra_aliases]))
        return f'"{digest.hexdigest()[:32]}"'

    def find(self, name: str) -> str | None:
        """The id ``name`` is or is an alias of."""
        for model in self.models():
            if name == model or name in self.aliases(model):
                return model
        return None

    def document(self, model: str) -> dict[str, Any] | None:
        """The OpenAPI document of one model: its first operation on each path."""
        paths: dict[str, Any] = {}
        for op in self.operations:
            if model not in op["models"] or op["path"] in paths:
                continue
            responses = {
                status: {"description": "", "content": {"application/json": {"schema": schema}}}
                for status, schema in (op.get("responses") or {}).items()
            }
            paths[op["path"]] = {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {op["content_type"]: {"schema": op["request"]}},
                    },
                    "responses": responses,
                }
            }
        if not paths:
            return None
        return {"openapi": "3.0.0", "info": {"title": model, "version": "1"}, "paths": paths}
