"""The model registry: what each model accepts, loaded from data, not code.

``gateway/models/data/models.json`` ships the built-in models (written by
``gateway models import`` from AIML's catalogue); an operator's file
(``GATEWAY_MODELS_FILE``, JSON or TOML) adds models or replaces built-in ones by id, and
wins. Every name (a catalogue id or an alias) resolves to one model; limits, cache keys,
usage and metrics all use the canonical id.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from gateway.errors import InvalidRequest
from gateway.models.adapters import NormalisedResponse, PreparedRequest, normalise, prepare
from gateway.models.derive import build_spec
from gateway.models.edit_input import EditFile
from gateway.models.edits import prepare_edit
from gateway.models.files import ModelData, RegistryError, RegistryFileData, parse_file
from gateway.models.spec import ModelSpec, passthrough_spec

BUILTIN = "built-in models (gateway/models/data/models.json)"


def builtin_text() -> bytes:
    """The built-in registry file's bytes."""
    return resources.files("gateway.models").joinpath("data/models.json").read_bytes()


def read_file(source: str, path: Path) -> RegistryFileData:
    """An operator's registry file, JSON or (by its suffix) TOML, strictly checked."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RegistryError(f"{source}: cannot be read: {exc.strerror or exc}") from None
    try:
        data: Any = tomllib.loads(raw.decode()) if path.suffix == ".toml" else orjson.loads(raw)
    except UnicodeDecodeError:
        raise RegistryError(f"{source}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source}: not valid TOML: {exc}") from None
    except orjson.JSONDecodeError as exc:
        raise RegistryError(f"{source}: not valid JSON: {exc}") from None
    return parse_file(source, data)


def _resolve(
    model_id: str,
    entry: ModelData,
    lookup: dict[str, ModelData],
    builtin: dict[str, ModelData],
    seen: tuple[str, ...] = (),
) -> ModelData:
    """``entry`` with its ``like`` chain applied (a model ``like`` itself means the built-in
    entry of that id)."""
    like = entry.like
    if like is None:
        return entry
    if like == model_id and model_id in builtin and builtin[model_id] is not entry:
        base = builtin[model_id]
    elif like in seen or like == model_id:
        raise ValueError(f"field 'like': {like!r} refers back to {model_id!r}")
    elif like in lookup:
        base = _resolve(like, lookup[like], lookup, builtin, (*seen, model_id))
    else:
        raise ValueError(f"field 'like': unknown model {like!r}")
    given = {name: getattr(entry, name) for name in entry.model_fields_set if name != "like"}
    return base.model_copy(update=given)


def check_data(source: str, data: Any) -> RegistryFileData:
    """Registry data as the gateway would load it, checked entry by entry (RegistryError
    naming ``source``, the model and the field): what ``models import`` and ``models sync``
    run before writing a file."""
    parsed = parse_file(source, data)
    likes = any(entry.like is not None for entry in parsed.models.values())
    builtin = parse_file(BUILTIN, orjson.loads(builtin_text())).models if likes else {}
    for model_id, entry in parsed.models.items():
        try:
            build_spec(model_id, _resolve(model_id, entry, parsed.models, builtin))
        except ValueError as exc:
            raise RegistryError(f"{source}: model {model_id!r}: {exc}") from None
    return parsed


class Registry:
    """Looks models up by id or alias and prepares requests for them."""

    def __init__(self, models: dict[str, ModelSpec], *, allow_unknown: bool = False) -> None:
        self._models = models
        self._allow_unknown = allow_unknown
        self._names: dict[str, ModelSpec] = {}
        for spec in models.values():
            for alias in spec.aliases:
                self._names[alias] = spec
        self._names.update(models)
        self._editors = tuple(spec.id for spec in models.values() if spec.edit is not None)
        self._masked = tuple(
            spec.id
            for spec in models.values()
            if spec.edit is not None and spec.edit.mask_field is not None
        )

    @classmethod
    def load(cls, override: Path | None = None, *, allow_unknown: bool = False) -> Registry:
        """Built-in models, then the operator's file on top.

        Any error (unreadable file, unknown field, bad value, a schema that does not
        compile, a field the schema does not have, an alias taken twice) raises
        RegistryError with one line naming the file, the model and the field.
        """
        try:
            builtin = parse_file(BUILTIN, orjson.loads(builtin_text()))
        except orjson.JSONDecodeError as exc:
            raise RegistryError(f"{BUILTIN}: not valid JSON: {exc}") from None
        entries = {mid: (BUILTIN, entry) for mid, entry in builtin.models.items()}
        if override is not None:
            source = f"models file {override}"
            extra = read_file(source, Path(override))
            entries.update({mid: (source, entry) for mid, entry in extra.models.items()})
            allow_unknown = allow_unknown or extra.allow_unknown
        lookup = {mid: entry for mid, (_source, entry) in entries.items()}
        specs: dict[str, ModelSpec] = {}
        for model_id, (source, entry) in entries.items():
            try:
                specs[model_id] = build_spec(
                    model_id, _resolve(model_id, entry, lookup, builtin.models)
                )
            except ValueError as exc:
                raise RegistryError(f"{source}: model {model_id!r}: {exc}") from None
        _check_aliases(specs, {mid: source for mid, (source, _e) in entries.items()})
        return cls(specs, allow_unknown=allow_unknown)

    @property
    def allows_unknown(self) -> bool:
        """Unknown models are passed through instead of refused."""
        return self._allow_unknown

    def get(self, name: str) -> ModelSpec | None:
        """The spec a model id or alias names."""
        return self._names.get(name)

    def models(self) -> list[ModelSpec]:
        """Every known model, in registry order."""
        return list(self._models.values())

    def aliases(self) -> dict[str, str]:
        """Every alias and the id it names."""
        return {name: spec.id for name, spec in self._names.items() if name != spec.id}

    def resolve(self, name: Any) -> ModelSpec:
        """The spec for a client's ``model`` (InvalidRequest ``model_not_found`` if none)."""
        if not isinstance(name, str) or not name:
            raise InvalidRequest(
                "You must provide a model as a non-empty string.",
                param="model",
                code="missing_required_parameter",
            )
        spec = self._names.get(name)
        if spec is not None:
            return spec
        if self._allow_unknown:
            return passthrough_spec(name)
        raise InvalidRequest(
            f"The model {name[:100]!r} is not supported by this gateway. "
            "GET /v1/models lists the models you may use.",
            param="model",
            code="model_not_found",
        )

    def prepare(self, body: dict[str, Any]) -> PreparedRequest:
        """Validate a client body and translate it for its model (InvalidRequest on error)."""
        return prepare(self.resolve(body.get("model")), body)

    def prepare_edit(
        self, fields: Mapping[str, str], images: Sequence[EditFile], mask: EditFile | None
    ) -> PreparedRequest:
        """Validate an edit form (its text fields, image files and mask) for the model it
        names and prepare it for that model's edit route (InvalidRequest on error)."""
        return prepare_edit(
            self.resolve(fields.get("model")),
            fields,
            images,
            mask,
            editors=self._editors,
            masked=self._masked,
        )

    def an_editor(self) -> str | None:
        """A model to suggest for edits: the first that takes multipart uploads and a mask,
        else the first that edits at all."""
        return next(iter(self._masked or self._editors), None)

    def normalise(
        self, prepared: PreparedRequest, upstream: Any, *, created: int
    ) -> NormalisedResponse:
        """The upstream's answer in OpenAI's shape."""
        return normalise(prepared, upstream, created=created)


def _check_aliases(specs: dict[str, ModelSpec], sources: dict[str, str]) -> None:
    """An alias names one model and is no model's id; the operator's file wins over the
    built-in one when both claim a name."""
    claimed: dict[str, str] = {}
    for model_id, spec in specs.items():
        for alias in spec.aliases:
            if alias in specs:
                raise RegistryError(
                    f"{sources[model_id]}: model {model_id!r}: field 'aliases': {alias!r} "
                    "is the id of another model"
                )
            other = claimed.get(alias)
            if other is not None and sources[other] == sources[model_id]:
                raise RegistryError(
                    f"{sources[model_id]}: model {model_id!r}: field 'aliases': {alias!r} "
                    f"is already an alias of {other!r}"
                )
            if other is None or sources[model_id] != BUILTIN:
                claimed[alias] = model_id
    for model_id, spec in list(specs.items()):
        kept = tuple(a for a in spec.aliases if claimed.get(a) == model_id)
        if kept != spec.aliases:
            specs[model_id] = replace(spec, aliases=kept)
