"""Price files: the built-in table, the operator's file, strict errors naming what is wrong."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.billing.price_file import (
    PricesFileError,
    builtin_price_file,
    load_price_table,
    read_price_file,
    write_price_file,
)
from tests.billing.conftest import PricesFrom

GOOD_TOML = """
[models."my/model"]
kind = "fixed"
units = [{ measure = "image", price = 0.1 }]
"""


def test_the_built_in_table_loads_and_names_its_sources() -> None:
    builtin = builtin_price_file()
    assert len(builtin.models) >= 15
    assert all(entry.source for entry in builtin.models.values())
    dall_e = builtin.models["dall-e-3"]
    assert {str(v.price) for v in dall_e.variants} == {"0.052", "0.104", "0.156"}


def test_numbers_are_read_as_exact_decimals(prices_from: PricesFrom) -> None:
    table = prices_from(
        '[models."m"]\nkind = "fixed"\nunits = [{ measure = "image", price = 0.1 }]\n', ".toml"
    )
    entry = table.get("m")
    assert entry is not None
    assert entry.units[0].price == Decimal("0.1")
    assert table.estimate("m", {}, 3).nanos == 300_000_000


def test_a_json_file_works_the_same(prices_from: PricesFrom) -> None:
    table = prices_from(
        '{"models": {"m": {"kind": "variants", "dimensions": ["quality"], "variants": '
        '[{"when": {"quality": "high"}, "price": "0.3", "unit": "image", "per": 1}]}}}',
        ".json",
    )
    assert table.estimate("m", {"quality": "high"}, 1).nanos == 300_000_000


def test_the_operator_file_adds_and_replaces_models(prices_from: PricesFrom) -> None:
    table = prices_from(
        GOOD_TOML
        + '[models."flux/schnell"]\nkind = "fixed"\n'
        + 'units = [{ measure = "image", price = 0.005 }]\n',
        ".toml",
    )
    assert table.estimate("my/model", {}, 1).nanos == 100_000_000
    assert table.estimate("flux/schnell", {}, 1).nanos == 5_000_000
    assert table.estimate("flux/dev", {}, 1).nanos == 33_000_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD_TOML + "modles = 1\n",
            "field modles: Extra inputs are not permitted",
        ),
        (
            '[models."m"]\nkind = "fixed"\ncolour = "red"\n'
            'units = [{ measure = "image", price = 0.1 }]\n',
            "model 'm', field colour: Extra inputs are not permitted",
        ),
        (
            '[models."m"]\nkind = "fixed"\nunits = [{ measure = "image", price = -0.1 }]\n',
            "model 'm', field units[0].price: Input should be greater than or equal to 0",
        ),
        (
            '[models."m"]\nkind = "fixed"\nunits = [{ measure = "image", price = 1, per = 0 }]\n',
            "model 'm', field units[0].per: Input should be greater than 0",
        ),
        (
            '[models."m"]\nkind = "fixed"\nunits = [{ measure = "image", price = "cheap" }]\n',
            "model 'm', field units[0].price: Input should be a valid decimal",
        ),
        (
            '[models."m"]\nkind = "fixed"\nunits = [{ measure = "image", price = 1, unit = "x" }]',
            "model 'm', field units[0].unit: Extra inputs are not permitted",
        ),
        (
            '[models."m"]\nkind = "fixed"\n',
            "model 'm': a fixed price has one or more units and no variants",
        ),
        (
            '[models."m"]\nkind = "tiered"\n',
            "model 'm', field kind: Input should be 'fixed', 'variants' or 'variable'",
        ),
        (
            '[models."m"]\nkind = "variants"\ndimensions = ["size"]\n'
            'variants = [{ when = { quality = "hd" }, price = 1 }]\n',
            "model 'm': variants[0].when names 'quality', which is not one of the dimensions",
        ),
        (
            '[models."m"]\nkind = "variable"\nunits = [{ measure = "image", price = 1 }]\n',
            "model 'm': a variable price has neither units nor variants",
        ),
        ('[models."m"\nkind = "fixed"\n', "not valid TOML"),
        ("models = [1, 2]\n", "field models: Input should be a valid dictionary"),
    ],
)
def test_a_bad_operator_file_is_one_line_naming_file_model_and_field(
    prices_from: PricesFrom, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(PricesFileError) as caught:
        prices_from(text, ".toml")
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(f"GATEWAY_PRICES_FILE {tmp_path / 'prices.toml'}: ")
    assert message in line


def test_json_errors_are_named_too(prices_from: PricesFrom) -> None:
    with pytest.raises(PricesFileError, match="not valid JSON"):
        prices_from('{"models": ', ".json")
    with pytest.raises(PricesFileError, match="must hold an object"):
        prices_from("[]", ".json")


def test_a_missing_file_or_a_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(PricesFileError, match="cannot read it: No such file"):
        load_price_table(tmp_path / "nope.toml", Decimal("0.2"))
    path = tmp_path / "prices.yaml"
    path.write_text(GOOD_TOML)
    with pytest.raises(PricesFileError, match=r"must end in \.toml or \.json"):
        load_price_table(path, Decimal("0.2"))


def test_a_written_file_reads_back_the_same(tmp_path: Path) -> None:
    models = builtin_price_file().models
    path = tmp_path / "out" / "prices.json"
    write_price_file(path, models, etag='"abc"', upstream="http://u")
    again = read_price_file(path)
    assert again.models == models
    assert again.etag == '"abc"'
    assert list(tmp_path.joinpath("out").iterdir()) == [path]


def _serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--port", "1"],
        env={"GATEWAY_STORE_PATH": str(tmp_path / "store.json"), "PATH": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_gateway_refuses_to_start_on_a_bad_prices_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models."dall-e-3"]\nkind = "fixed"\nunits = [{ measure = "image" }]\n')
    done = _serve({"GATEWAY_PRICES_FILE": str(path)}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"gateway: invalid settings: GATEWAY_PRICES_FILE {path}: ")
    assert "model 'dall-e-3', field units[0].price: Field required" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["-0.01", "free", "0.0000000001", "nan"])
def test_the_gateway_refuses_a_bad_default_price(tmp_path: Path, value: str) -> None:
    done = _serve({"GATEWAY_DEFAULT_IMAGE_PRICE_USD": value}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("gateway: invalid setting GATEWAY_DEFAULT_IMAGE_PRICE_USD: ")
    assert done.stderr.count("\n") == 1


def test_the_readme_example_is_a_valid_price_file(prices_from: PricesFrom) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Prices and costs", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    table = prices_from(example, ".toml")
    assert table.estimate("gpt-image-1", {"quality": "low", "size": "1024x1024"}, 1).nanos == (
        11_000_000
    )
    assert table.estimate("my/video-frame-model", {}, 1).basis == "default"
