"""The strict registry loader: every mistake in a model file is one line naming the file,
the model and the field, and stops start-up with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.models.files import RegistryError
from gateway.models.registry import Registry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[models."flux/krea"]\nfamily = "flux"\npromt_max = 10\n',
            "model 'flux/krea': field 'promt_max': unknown field",
        ),
        (
            '[models."flux/krea"]\nfamily = "flux"\nprompt_max = "long"\n',
            "model 'flux/krea': field 'prompt_max': Input should be a valid integer",
        ),
        (
            '[models."x"]\nfamily = "flux"\ncount = { field = "n", max = 4, maximum = 9 }\n',
            "model 'x': field 'count.maximum': unknown field",
        ),
        (
            '[models."x"]\nfamily = "flux"\ncount = { min = 3, max = 2, default = 3 }\n',
            "model 'x': field 'count': needs min <= default <= max",
        ),
        (
            '[models."x"]\nfamily = "flux"\nsize = { field = "image_size", kind = "pixels" }\n',
            "model 'x': field 'size.kind': Input should be 'enum', 'image_size' or 'aspect_ratio'",
        ),
        ('[models."x"]\nfamily = "nope"\n', "model 'x': field 'family': unknown family 'nope'"),
        ('[models."x"]\nprompt_max = 5\n', "model 'x': field 'family': missing"),
        ('[models."x"]\nlike = "y"\n', "model 'x': field 'like': unknown model 'y'"),
        (
            '[models."x"]\nlike = "dall-e-2"\nfamily = "flux"\n',
            "model 'x': field 'family': give either 'family' or 'like'",
        ),
        ('[family.flux]\nrespons = "images"\n', "family 'flux': field 'respons': unknown field"),
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


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot be read"):
        Registry.load(tmp_path / "missing.toml")


def test_like_copies_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[models."big-dalle"]\nlike = "dall-e-2"\nprompt_max = 9\n')
    spec = Registry.load(path).get("big-dalle")
    base = Registry.load().get("dall-e-2")
    assert spec is not None and base is not None
    assert spec.prompt_max == 9 and spec.count == base.count and spec.family == "openai"


@pytest.mark.e2e
def test_bad_model_file_stops_startup_with_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[models."flux/krea"]\nfamily = "flux"\npromt_max = 10\n')
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "GATEWAY_MODELS_FILE": str(path)},
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"gateway: models file {path}: model 'flux/krea': field 'promt_max': unknown field"
    ]
