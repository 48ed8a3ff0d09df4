"""The README's model table is the registry's (``make models`` rewrites it)."""

from __future__ import annotations

from pathlib import Path

from gateway.models import table
from gateway.models.registry import Registry

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_model_table_is_current() -> None:
    text = README.read_text()
    assert table.splice(text, table.markdown(Registry.load())) == text, "run make models"
    assert text.count("| `") >= 83
