"""The strict registry loader: every mistake in a model file is one line naming the file,
the model and the field, and stops start-up with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.models.files import RegistryError
from gateway.models.registry import Registry

SCHEMA = (
    '{ type = "object", properties = { prompt = { type = "string" }, '
    'num_images = { type = "integer", maximum = 4 } } }'
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f'[models."acme/x"]\nfamilly = "acme"\ngenerate = {{ schema = {SCHEMA} }}\n',
            "model 'acme/x': field 'familly': unknown field",
        ),
        (
            f'[models."acme/x"]\ngenerate = {{ schema = {SCHEMA}, pth = "/x" }}\n',
            "model 'acme/x': field 'generate.pth': unknown field",
        ),
        (
            '[models."acme/x"]\ngenerate = { path = "/x" }\n',
            "model 'acme/x': field 'generate.schema': Field required",
        ),
        (
            f'[models."acme/x"]\ngenerate = {{ schema = {SCHEMA} }}\ncount = 3\n',
            "model 'acme/x': field 'count': Input should be a valid string",
        ),
        (
            f'[models."acme/x"]\ngenerate = {{ schema = {SCHEMA} }}\ncount = "n"\n',
            "model 'acme/x': field 'count': 'n' is not a field of the model's schema",
        ),
        (
            f'[models."acme/x"]\ngenerate = {{ schema = {SCHEMA} }}\n'
            'size = [{ field = "image_size", kind = "pixels" }]\n',
            "model 'acme/x': field 'size.0.kind': Input should be 'wxh'",
        ),
        (
            f'[models."acme/x"]\ngenerate = {{ schema = {SCHEMA} }}\n'
            'size = [{ field = "image_size", kind = "image_size" }]\n',
            "model 'acme/x': field 'size': 'image_size' is not a field of the model's schema",
        ),
        (
            '[models."acme/x"]\ngenerate = { schema = { type = "object", maxLength = "ten" } }\n',
            "model 'acme/x': field 'generate.schema': not a valid JSON Schema",
        ),
        ('[models."acme/x"]\nfamily = "acme"\n', "model 'acme/x': field 'generate': a model needs"),
        ('[models."x"]\nlike = "y"\n', "model 'x': field 'like': unknown model 'y'"),
        (
            '[models."x"]\nlike = "dall-e-2"\naliases = ["gpt-image-1"]\n'
            '[models."y"]\nlike = "dall-e-2"\naliases = ["gpt-image-1"]\n',
            "field 'aliases': 'gpt-image-1' is already an alias of 'x'",
        ),
        (
            '[models."x"]\nlike = "dall-e-2"\naliases = ["dall-e-3"]\n',
            "model 'x': field 'aliases': 'dall-e-3' is the id of another model",
        ),
        ("allow_unknwn = true\n", "field 'allow_unknwn': unknown field"),
        ('[models."x"\n', "not valid TOML"),
    ],
)
def test_every_error_names_file_model_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(RegistryError) as caught:
        Registry.load(path)
    message = str(caught.value)
    assert message.startswith(f"models file {path}: ")
    assert expected in message
    assert "\n" not in message


def test_json_files_are_checked_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('{"models": {"acme/x": {"like": "dall-e-2", "promt_max": 3}}}')
    with pytest.raises(RegistryError, match="model 'acme/x': field 'promt_max': unknown field"):
        Registry.load(path)
    path.write_text("{")
    with pytest.raises(RegistryError, match="not valid JSON"):
        Registry.load(path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot be read"):
        Registry.load(tmp_path / "missing.toml")


@pytest.mark.e2e
def test_bad_model_file_stops_startup_with_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[models."flux/krea"]\nlike = "flux/dev"\npromt_max = 10\n')
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "GATEWAY_MODELS_FILE": str(path)},
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"gateway: models file {path}: model 'flux/krea': field 'promt_max': unknown field"
    ]


def test_the_example_operator_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "config/models.example.toml"
    registry = Registry.load(example)
    painter = registry.get("painter")
    assert painter is not None and painter.id == "acme/painter-2"
    assert (
        registry.prepare({"model": "house-style", "prompt": "x"}).model.id == "openai/gpt-image-2"
    )
