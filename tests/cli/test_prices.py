"""``gateway prices list`` and ``gateway prices show``: the table the gateway would use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.main import main


def use_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> Path:
    """Write an operator price file and point GATEWAY_PRICES_FILE at it."""
    path = tmp_path / name
    path.write_text(text)
    monkeypatch.setenv("GATEWAY_PRICES_FILE", str(path))
    return path


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("GATEWAY_PRICES_FILE", raising=False)
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    return CliRunner()


def test_list_shows_the_built_in_table_and_the_default(runner: CliRunner) -> None:
    result = runner.invoke(main, ["prices", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["MODEL", "ALIASES", "PRICE", "SOURCE"]
    schnell = next(line for line in lines if line.startswith("flux/schnell "))
    assert "$0.004/image" in schnell and "aiml list" in schnell
    assert "default (models without a price): $0.2/image" in result.output
    assert "operator file: (none" in result.output


def test_list_json_with_an_operator_file_and_default(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = '[models."x/y"]\nkind = "fixed"\nunits = [{ measure = "image", price = 1 }]\n'
    path = use_file(tmp_path, monkeypatch, "prices.toml", text)
    monkeypatch.setenv("GATEWAY_DEFAULT_IMAGE_PRICE_USD", "0.35")
    result = runner.invoke(main, ["prices", "list", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert listing["default_image_price_usd"] == "0.35"
    assert listing["prices_file"] == str(path)
    entry = next(e for e in listing["data"] if e["model"] == "x/y")
    assert entry["units"] == [{"measure": "image", "price": "1", "per": "1"}]


def test_show_a_model_by_alias(runner: CliRunner) -> None:
    result = runner.invoke(main, ["prices", "show", "gpt-image-1"])
    assert result.exit_code == 0, result.output
    assert "model:   openai/gpt-image-1" in result.output
    assert any(
        line.split() == ["high", "1536x1024", "$0.325/image"] for line in result.output.splitlines()
    )


def test_show_an_unknown_model(runner: CliRunner) -> None:
    result = runner.invoke(main, ["prices", "show", "no/such"])
    assert result.exit_code == 1
    assert "no price for 'no/such': it is estimated at the default $0.2 per image" in result.output


def test_a_bad_file_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = '{"models": {"m": {"kind": "fixed", "units": []}}}'
    path = use_file(tmp_path, monkeypatch, "prices.json", text)
    result = runner.invoke(main, ["prices", "list"])
    assert result.exit_code == 2
    assert result.output == (
        f"gateway: GATEWAY_PRICES_FILE {path}: model 'm': "
        "a fixed price has one or more units and no variants\n"
    )
