"""``gateway models import``: the built-in registry is the catalogue, imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.models.catalogue import (
    CatalogueError,
    operations_from_catalogue,
    operations_from_document,
    operations_from_path,
)
from gateway.models.importer import ImportRules, dump, import_operations
from gateway.models.registry import builtin_text
from gateway.testing.fake_catalogue import catalogue_bytes

CATALOGUE = Path(__file__).resolve().parents[2] / "gateway/testing/data/aiml-catalog.json"


def run_import(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "models", "import", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_reimporting_the_catalogue_reproduces_the_builtin_registry_byte_for_byte(
    tmp_path: Path,
) -> None:
    out = tmp_path / "models.json"
    done = run_import(str(CATALOGUE), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == builtin_text()
    assert "imported 83 models" in done.stderr


def test_the_command_reports_what_it_merged_and_ignored() -> None:
    done = run_import(str(CATALOGUE))
    assert done.returncode == 0
    assert orjson.loads(done.stdout) == orjson.loads(builtin_text())
    report = done.stderr.splitlines()
    merged = next(line for line in report if line.startswith("merged flux/schnell (generate)"))
    assert "3 documents" in merged and "num_images" in merged and "image_size" in merged
    assert any(
        line.startswith("ignored flux/schnell (generate): Black-Forest-Labs/schnell.json")
        and "/v1/images/generations/with-url" in line
        for line in report
    )
    assert any(line.startswith("merged openai/gpt-image-1 (edit): 2 documents") for line in report)


def _documents(catalogue: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The catalogue as AIML's per-model OpenAPI files, one per source, paths as published."""
    files: dict[str, dict[str, Any]] = {}
    for op in catalogue["operations"]:
        doc = files.setdefault(op["source"], {"openapi": "3.0.0", "paths": {}})
        doc["paths"].setdefault(op["path"], {})["post"] = {
            "requestBody": {"content": {op["content_type"]: {"schema": op["request"]}}},
            "responses": {},
        }
    return files


def test_a_folder_of_openapi_documents_imports_like_the_catalogue(tmp_path: Path) -> None:
    catalogue = orjson.loads(catalogue_bytes())
    for source, doc in _documents(catalogue).items():
        path = tmp_path / "docs" / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(doc))
    (tmp_path / "docs" / "README.json").write_text('{"title": "not a document"}')
    ops, notes, origin = operations_from_path(tmp_path / "docs")
    assert notes == ["skipped README.json: not an OpenAPI document"]
    folder = import_operations(ops, origin=origin).models
    whole = import_operations(operations_from_catalogue(catalogue), origin="x").models
    assert set(folder) == set(whole)
    different = [
        model
        for model in whole
        if folder[model]["generate" if "generate" in whole[model] else "edit"]
        != whole[model]["generate" if "generate" in whole[model] else "edit"]
    ]
    assert different == []


def test_merge_keeps_the_loosest_documented_bounds_and_every_field() -> None:
    one = {
        "type": "object",
        "required": ["model", "prompt", "seed"],
        "properties": {
            "model": {"type": "string", "enum": ["acme/x"]},
            "prompt": {"type": "string", "maxLength": 100},
            "num_images": {"type": "integer", "minimum": 1, "maximum": 2},
            "quality": {"type": "string", "enum": ["low", "high"]},
            "seed": {"type": "integer"},
        },
    }
    two = {
        "type": "object",
        "required": ["model", "prompt"],
        "properties": {
            "model": {"type": "string", "enum": ["acme/x"]},
            "prompt": {"type": "string", "maxLength": 400},
            "num_images": {"type": "number", "default": 1},
            "quality": {"type": "string", "enum": ["high", "max"]},
            "style": {"type": "string"},
        },
    }
    catalogue = {
        "operations": [
            {
                "source": "a.json",
                "path": "/v1/images/generations",
                "models": ["acme/x"],
                "request": one,
            },
            {
                "source": "b.json",
                "path": "/v1/images/generations",
                "models": ["acme/x"],
                "request": two,
            },
            {
                "source": "c.json",
                "path": "/images/generations",
                "models": ["acme/x"],
                "request": one,
            },
        ]
    }
    result = import_operations(
        operations_from_catalogue(catalogue), origin="t", rules=ImportRules()
    )
    schema = result.models["acme/x"]["generate"]["schema"]
    props = schema["properties"]
    assert props["prompt"] == {"type": "string", "maxLength": 400}
    assert props["num_images"] == {"type": "number", "minimum": 1, "maximum": 2, "default": 1}
    assert props["quality"]["enum"] == ["low", "high", "max"]
    assert set(props) == {"model", "prompt", "num_images", "quality", "seed", "style"}
    assert schema["required"] == ["model", "prompt"]
    assert result.models["acme/x"]["sources"] == ["a.json", "b.json"]
    assert result.models["acme/x"]["family"] == "acme"
    assert any("ignored acme/x (generate): c.json /images/generations" in r for r in result.report)


def test_openapi_documents_are_read_as_json_schema() -> None:
    doc: dict[str, Any] = {
        "openapi": "3.0.0",
        "components": {
            "schemas": {
                "Body": {
                    "type": "object",
                    "properties": {
                        "model": {"type": "string", "enum": ["acme/x"]},
                        "width": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
                        "mask": {"type": "string", "nullable": True, "deprecated": True},
                    },
                }
            }
        },
        "paths": {
            "/v1/images/generations": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Body"}}
                        }
                    }
                }
            },
            "/v1/chat/completions": {"post": {}},
        },
    }
    (op,) = operations_from_document("x.json", doc)
    assert op.models == ("acme/x",)
    assert op.request["properties"]["width"] == {"type": "integer", "exclusiveMinimum": 0}
    assert op.request["properties"]["mask"] == {"type": ["string", "null"]}
    doc["components"]["schemas"]["Body"]["properties"]["loop"] = {"$ref": "#/nowhere"}
    with pytest.raises(CatalogueError, match="points at nothing"):
        operations_from_document("x.json", doc)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"operations": 3}', "not a catalogue"),
        ('{"operations": [{"source": "a"}]}', "operations[0]: needs a 'request' schema"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(content)
    done = run_import(str(path))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_dump_is_stable() -> None:
    data = {"models": {"b": {"x": 1}, "a": {"y": [1.5, None]}}}
    assert dump(data) == dump(orjson.loads(dump(data)))
