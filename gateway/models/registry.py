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
from gateway.models.files import FieldsData, ModelData, RegistryError, parse_file
from gateway.models.spec import Count, ModelSpec, Size, passthrough_spec

BUILTIN = "built-in models (gateway/models/data/models.toml)"


def _read(source: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source}: not valid TOML: {exc}") from None


def _merged(layers: list[FieldsData]) -> dict[str, Any]:
    """The fields set anywhere in ``layers``, later layers winning."""
    out: dict[str, Any] = {}
    for layer in layers:
        out.update({name: getattr(layer, name) for name in layer.model_fields_set})
    return out


def _layers(
    model_id: str,
    raw: ModelData,
    models: dict[str, tuple[str, ModelData]],
    families: dict[str, FieldsData],
    seen: tuple[str, ...] = (),
) -> tuple[str, list[FieldsData]]:
    """The family name and the layers (family, ``like`` chain, the model) of one model."""
    if raw.like is not None:
        if raw.family is not None:
            raise ValueError("field 'family': give either 'family' or 'like', not both")
        if raw.like in seen or raw.like == model_id:
            raise ValueError(f"field 'like': {raw.like!r} refers back to {model_id!r}")
        if raw.like not in models:
            raise ValueError(f"field 'like': unknown model {raw.like!r}")
        family, layers = _layers(raw.like, models[raw.like][1], models, families, (*seen, model_id))
        return family, [*layers, raw]
    if raw.family is None:
        raise ValueError("field 'family': missing (or 'like' another model)")
    if raw.family not in families:
        known = ", ".join(sorted(families))
        raise ValueError(f"field 'family': unknown family {raw.family!r} (known: {known})")
    return raw.family, [families[raw.family], raw]


def _spec(family: str, model_id: str, fields: dict[str, Any]) -> ModelSpec:
    size = fields.get("size")
    fmt = fields.get("response_format")
    count = fields.get("count")
    return ModelSpec(
        id=model_id,
        family=family,
        owned_by=fields.get("owned_by") or "upstream",
        response=fields.get("response") or "openai",
        prompt_max=fields.get("prompt_max") or 4000,
        count=Count(count.field, count.min, count.max, count.default) if count else Count(),
        size=Size(size.field, size.kind, size.values, size.default) if size else None,
        formats=fmt.values if fmt else ("url",),
        format_default=fmt.default if fmt else "url",
        format_native=fmt.native if fmt else False,
        enums={k: (e.values, e.default) for k, e in (fields.get("enums") or {}).items()},
        ranges={k: (r.min, r.max) for k, r in (fields.get("ranges") or {}).items()},
    )


class Registry:
    """Looks models up and prepares requests for them."""

    def __init__(self, models: dict[str, ModelSpec], *, allow_unknown: bool = False) -> None:
        self._models = models
        self._allow_unknown = allow_unknown

    @classmethod
    def load(cls, override: Path | None = None, *, allow_unknown: bool = False) -> Registry:
        """Built-in models, then the operator's file on top.

        Any error (unreadable file, unknown field, bad value, unknown family) raises
        RegistryError with one line naming the file, the model and the field.
        """
        text = resources.files("gateway.models").joinpath("data/models.toml").read_text()
        builtin = parse_file(BUILTIN, _read(BUILTIN, text))
        families: dict[str, FieldsData] = dict(builtin.family)
        models = {mid: (BUILTIN, m) for mid, m in builtin.models.items()}
        if override is not None:
            source = f"models file {override}"
            try:
                text = Path(override).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise RegistryError(f"{source}: cannot be read: {exc}") from None
            extra = parse_file(source, _read(source, text))
            families.update(extra.family)
            models.update({mid: (source, m) for mid, m in extra.models.items()})
            allow_unknown = allow_unknown or extra.allow_unknown
        specs: dict[str, ModelSpec] = {}
        for model_id, (source, raw) in models.items():
            try:
                family, layers = _layers(model_id, raw, models, families)
            except ValueError as exc:
                raise RegistryError(f"{source}: model {model_id!r}: {exc}") from None
            specs[model_id] = _spec(family, model_id, _merged(layers))
        return cls(specs, allow_unknown=allow_unknown)

    @property
    def allows_unknown(self) -> bool:
        """Unknown models are passed through instead of refused."""
        return self._allow_unknown

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
