"""``python -m bench.validators``: the JSON Schema validators the gateway could use, timed
on typical requests against AIML's published schemas (the choice is recorded in the README).

Each candidate that is installed compiles every catalogue model's schema once, then
validates the same valid and invalid bodies many times; the table shows microseconds per
validation and the compile time for the whole catalogue. Candidates not installed are
skipped (only jsonschema-rs is a gateway dependency).
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REGISTRY = Path(__file__).resolve().parent.parent / "gateway/models/data/models.json"

BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "flux valid": (
        "flux/schnell",
        {
            "model": "flux/schnell",
            "prompt": "a red fox in the snow, watercolour",
            "num_images": 2,
            "image_size": {"width": 1024, "height": 768},
        },
    ),
    "gpt-image valid": (
        "openai/gpt-image-1",
        {
            "model": "openai/gpt-image-1",
            "prompt": "a red fox in the snow, watercolour",
            "n": 1,
            "size": "1024x1536",
            "quality": "high",
            "background": "transparent",
        },
    ),
    "flux invalid": (
        "flux/schnell",
        {
            "model": "flux/schnell",
            "prompt": "a red fox",
            "num_images": 2,
            "image_size": {"width": 9000, "height": 768},
        },
    ),
}

Compile = Callable[[dict[str, Any]], Callable[[Any], bool]]


def _jsonschema_rs() -> Compile:
    module: Any = importlib.import_module("jsonschema_rs")

    def build(schema: dict[str, Any]) -> Callable[[Any], bool]:
        return module.Draft7Validator(schema, validate_formats=False).is_valid  # type: ignore[no-any-return]

    return build


def _fastjsonschema() -> Compile:
    module: Any = importlib.import_module("fastjsonschema")

    def build(schema: dict[str, Any]) -> Callable[[Any], bool]:
        check = module.compile(schema, use_formats=False)

        def valid(body: Any) -> bool:
            try:
                check(body)
            except module.JsonSchemaException:
                return False
            return True

        return valid

    return build


def _jsonschema() -> Compile:
    module: Any = importlib.import_module("jsonschema")

    def build(schema: dict[str, Any]) -> Callable[[Any], bool]:
        return module.Draft7Validator(schema).is_valid  # type: ignore[no-any-return]

    return build


CANDIDATES: dict[str, Callable[[], Compile]] = {
    "jsonschema-rs": _jsonschema_rs,
    "fastjsonschema": _fastjsonschema,
    "jsonschema": _jsonschema,
}


def schemas() -> dict[str, dict[str, Any]]:
    """Every built-in model's generation schema (draft 7), as the gateway compiles them."""
    registry = json.loads(REGISTRY.read_text())
    return {
        model: {"$schema": "http://json-schema.org/draft-07/schema#", **entry["generate"]["schema"]}
        for model, entry in registry["models"].items()
        if "generate" in entry
    }


def measure(rounds: int) -> list[tuple[str, str, float]]:
    """(candidate, what, microseconds) for every installed candidate."""
    rows: list[tuple[str, str, float]] = []
    by_model = schemas()
    for name, load in CANDIDATES.items():
        try:
            build = load()
        except ImportError:
            rows.append((name, "not installed", float("nan")))
            continue
        started = time.perf_counter()
        compiled = {model: build(schema) for model, schema in by_model.items()}
        rows.append(
            (name, f"compile {len(compiled)} schemas (ms)", (time.perf_counter() - started) * 1e3)
        )
        for label, (model, body) in BODIES.items():
            check = compiled[model]
            expected = "invalid" not in label
            assert check(body) is expected, (name, label)
            started = time.perf_counter()
            for _ in range(rounds):
                check(body)
            rows.append((name, f"{label} (us)", (time.perf_counter() - started) / rounds * 1e6))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    for name, what, value in measure(args.rounds):
        print(f"{name:16} {what:36} {value:10.2f}")


if __name__ == "__main__":
    main()
