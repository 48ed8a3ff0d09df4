"""The model registry: what each model accepts, loaded from data (TOML), not code.

``gateway/models/data/models.toml`` ships the built-in models; an operator's file adds or
replaces models (and families) without touching code. Translation between OpenAI's
fields and each family's dialect, and normalisation of answers, is in
:mod:`gateway.models.adapters`.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from gateway.errors import InvalidRequest
from gateway.models.adapters import NormalisedResponse, PreparedRequest, normalise, prepare
from gateway.models.spec import (
    RESPONSE_SHAPES,
    SIZE_KINDS,
    Count,
    ModelSpec,
    Size,
    passthrough_spec,
)


def _spec(model_id: str, raw: dict[str, Any], families: dict[str, dict[str, Any]]) -> ModelSpec:
    family_name = raw.get("family")
    if not isinstance(family_name, str) or family_name not in families:
        raise ValueError(f"model {model_id!r}: unknown family {family_name!r}")
    merged = {**families[family_name], **raw}
    response = merged.get("response", "openai")
    if response not in RESPONSE_SHAPES:
        raise ValueError(f"model {model_id!r}: response must be one of {RESPONSE_SHAPES}")
    size_raw = merged.get("size")
    size = None
    if size_raw is not None:
        if size_raw.get("kind") not in SIZE_KINDS:
            raise ValueError(f"model {model_id!r}: size.kind must be one of {SIZE_KINDS}")
        size = Size(
            str(size_raw["field"]),
            size_raw["kind"],
            tuple(size_raw.get("values", ())),
            size_raw.get("default"),
        )
    fmt = merged.get("response_format", {})
    return ModelSpec(
        id=model_id,
        family=family_name,
        owned_by=str(merged.get("owned_by", "upstream")),
        response=response,
        prompt_max=int(merged.get("prompt_max", 4000)),
        count=Count(**merged.get("count", {})),
        size=size,
        formats=tuple(fmt.get("values", ("url",))),
        format_default=str(fmt.get("default", "url")),
        format_native=bool(fmt.get("native", False)),
        enums={
            name: (tuple(e["values"]), e.get("default"))
            for name, e in merged.get("enums", {}).items()
        },
        ranges={
            name: (float(r["min"]), float(r["max"])) for name, r in merged.get("ranges", {}).items()
        },
    )


class Registry:
    """Looks models up and prepares requests for them."""

    def __init__(self, models: dict[str, ModelSpec], *, allow_unknown: bool = False) -> None:
        self._models = models
        self._allow_unknown = allow_unknown

    @classmethod
    def load(cls, override: Path | None = None, *, allow_unknown: bool = False) -> Registry:
        """Built-in models, then the operator's file on top. A bad file raises ValueError."""
        builtin = resources.files("gateway.models").joinpath("data/models.toml").read_text()
        data = tomllib.loads(builtin)
        families: dict[str, dict[str, Any]] = dict(data.get("family", {}))
        raw_models: dict[str, dict[str, Any]] = dict(data.get("models", {}))
        if override is not None:
            try:
                extra = tomllib.loads(Path(override).read_text())
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"models file {override}: {exc}") from None
            families.update(extra.get("family", {}))
            raw_models.update(extra.get("models", {}))
            allow_unknown = allow_unknown or bool(extra.get("allow_unknown", False))
        models: dict[str, ModelSpec] = {}
        try:
            for model_id, raw in raw_models.items():
                if "like" in raw:
                    raw = {
                        **raw_models[raw["like"]],
                        **{k: v for k, v in raw.items() if k != "like"},
                    }
                models[model_id] = _spec(model_id, raw, families)
        except (KeyError, TypeError, ValueError) as exc:
            where = f"models file {override}" if override else "built-in models"
            raise ValueError(f"{where}: {exc}") from None
        return cls(models, allow_unknown=allow_unknown)

    def get(self, model_id: str) -> ModelSpec | None:
        """The spec of a known model."""
        return self._models.get(model_id)

    def models(self) -> list[ModelSpec]:
        """Every known model, in registry order."""
        return list(self._models.values())

    def prepare(self, body: dict[str, Any]) -> PreparedRequest:
        """Validate a client body and translate it for its model (InvalidRequest on error)."""
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise InvalidRequest(
                "You must provide a model as a non-empty string.",
                param="model",
                code="missing_required_parameter",
            )
        spec = self._models.get(model_id)
        if spec is None:
            if not self._allow_unknown:
                raise InvalidRequest(
                    f"The model {model_id[:100]!r} is not supported by this "
                    "gateway. GET /v1/models lists the models you may use.",
                    param="model",
                    code="model_not_found",
                )
            spec = passthrough_spec(model_id)
        return prepare(spec, body)

    def normalise(
        self, prepared: PreparedRequest, upstream: Any, *, created: int
    ) -> NormalisedResponse:
        """The upstream's answer in OpenAI's shape."""
        return normalise(prepared, upstream, created=created)
