"""Estimated cost of a request: fixed, variants, per-megapixel, unknown and variable prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.billing.price_file import load_price_table
from gateway.billing.prices import MAX_QUOTES, PriceTable
from gateway.models.registry import Registry
from tests.billing.conftest import PricesFrom

DEFAULT = 200_000_000

OPERATOR = """
[models."flux/dev"]
kind = "fixed"
units = [{ name = "output", measure = "megapixel", price = 0.025, per = 1 }]

[models."my/variants-mp"]
kind = "variants"
dimensions = ["resolution"]
variants = [
    { when = { resolution = "1K" }, price = 0.02, unit = "megapixel", per = 1 },
    { when = { resolution = "2K" }, price = 0.15, unit = "image", per = 1 },
]

[models."my/steps"]
kind = "variants"
dimensions = ["num_inference_steps", "enhance"]
variants = [
    { when = { num_inference_steps = 4, enhance = false }, price = 0.01 },
    { when = { num_inference_steps = 4, enhance = true }, price = 0.02 },
    { when = { num_inference_steps = 28, enhance = false }, price = 0.03 },
]

[models."my/tokens"]
kind = "fixed"
units = [
    { name = "image", measure = "image", price = 0.01, per = 1 },
    { name = "output", measure = "token", price = 40, per = 1000000 },
]

[models."my/variable"]
kind = "variable"

[models."my/thousand"]
kind = "fixed"
units = [{ measure = "image", price = 7, per = 1000 }]

[models."openai/dall-e-3"]
kind = "fixed"
aliases = ["dall-e-3"]
units = [{ measure = "image", price = 0.06, per = 1 }]
source = "upstream"
"""


@pytest.fixture(scope="module")
def builtin() -> PriceTable:
    return load_price_table(None, Decimal("0.20"))


@pytest.fixture
def table(prices_from: PricesFrom) -> PriceTable:
    return prices_from(OPERATOR, ".toml")


def test_fixed_per_image_price_times_the_image_count(builtin: PriceTable) -> None:
    estimate = builtin.estimate("flux/schnell", {"num_images": 3}, 3)
    assert (estimate.nanos, estimate.per_image_nanos, estimate.basis) == (
        12_000_000,
        4_000_000,
        "fixed",
    )


@pytest.mark.parametrize(
    ("fields", "usd"),
    [
        ({"quality": "hd", "size": "1792x1024"}, "0.156"),
        ({"quality": "standard", "size": "1024x1024"}, "0.052"),
        ({"size": "1024x1792"}, "0.156"),
        ({"quality": "standard"}, "0.104"),
        ({"quality": "standard", "size": "2048x2048"}, "0.156"),
        ({"quality": "ultra", "size": "1024x1024"}, "0.156"),
    ],
)
def test_variants_the_request_names_else_the_dearest_it_can_be(
    builtin: PriceTable, fields: dict[str, Any], usd: str
) -> None:
    estimate = builtin.estimate("dall-e-3", {"prompt": "x", **fields}, 1)
    assert estimate.nanos == int(Decimal(usd) * 10**9)
    assert estimate.basis == "variant"


def test_variants_match_numbers_and_booleans(table: PriceTable) -> None:
    assert table.estimate("my/steps", {"num_inference_steps": 4, "enhance": True}, 2).nanos == (
        40_000_000
    )
    assert table.estimate("my/steps", {"num_inference_steps": 28.0}, 1).nanos == 30_000_000
    assert table.estimate("my/steps", {"num_inference_steps": 4}, 1).nanos == 20_000_000


@pytest.mark.parametrize(
    ("fields", "nanos"),
    [
        ({"image_size": {"width": 1024, "height": 768}}, 19_660_800),
        ({"image_size": "landscape_16_9"}, 14_745_600),
        ({"image_size": "square_hd"}, 26_214_400),
        ({"size": "1536x1024"}, 39_321_600),
        ({"width": 2048, "height": 2048}, 104_857_600),
    ],
)
def test_per_megapixel_rates_come_from_the_size(
    table: PriceTable, fields: dict[str, Any], nanos: int
) -> None:
    estimate = table.estimate("flux/dev", fields, 2)
    assert estimate.per_image_nanos == nanos
    assert estimate.nanos == 2 * nanos
    assert estimate.basis == "fixed"


def test_per_megapixel_variant(table: PriceTable) -> None:
    fields = {"resolution": "1K", "image_size": {"width": 1000, "height": 1000}}
    assert table.estimate("my/variants-mp", fields, 1).nanos == 20_000_000
    assert table.estimate("my/variants-mp", {"resolution": "2K"}, 1).nanos == 150_000_000
    # No size: the megapixel variant cannot be quoted, the dearest quotable one is used.
    assert table.estimate("my/variants-mp", {}, 1).nanos == 150_000_000


def test_per_megapixel_without_a_size_uses_the_default(table: PriceTable) -> None:
    estimate = table.estimate("flux/dev", {"aspect_ratio": "16:9"}, 2)
    assert (estimate.nanos, estimate.basis) == (2 * DEFAULT, "default")
    assert "megapixel" in (estimate.reason or "")


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("no/such-model", "no price known"),
        ("my/variable", "variable"),
        ("my/tokens", "token"),
    ],
)
def test_unquotable_prices_use_the_default(table: PriceTable, model: str, reason: str) -> None:
    estimate = table.estimate(model, {"size": "1024x1024"}, 3)
    assert (estimate.nanos, estimate.per_image_nanos, estimate.basis) == (
        3 * DEFAULT,
        DEFAULT,
        "default",
    )
    assert reason in (estimate.reason or "")


def test_price_is_read_with_per(table: PriceTable) -> None:
    assert table.estimate("my/thousand", {}, 1).nanos == 7_000_000


def test_no_images_cost_nothing(builtin: PriceTable) -> None:
    assert builtin.estimate("flux/schnell", {}, 0).nanos == 0


def test_aliases_find_the_model(builtin: PriceTable) -> None:
    assert builtin.estimate("gpt-image-1", {"quality": "low", "size": "1024x1024"}, 1).nanos == (
        14_300_000
    )
    assert builtin.get("gpt-image-1") is builtin.get("openai/gpt-image-1")


def test_the_operator_file_replaces_built_in_entries_under_their_aliases(
    builtin: PriceTable, table: PriceTable
) -> None:
    """A synced ``openai/dall-e-3`` (alias ``dall-e-3``) replaces the built-in ``dall-e-3``."""
    assert builtin.get("dall-e-3") is not None
    entry = table.get("dall-e-3")
    assert entry is not None
    assert entry.model == "openai/dall-e-3"
    assert table.estimate("dall-e-3", {"quality": "hd"}, 1).nanos == 60_000_000
    assert "dall-e-3" not in [p.model for p in table.models()]
    assert table.get("flux/schnell") == builtin.get("flux/schnell")


def test_an_id_wins_over_another_entrys_alias_in_the_same_file(prices_from: PricesFrom) -> None:
    table = prices_from(
        """
[models."a"]
kind = "fixed"
units = [{ measure = "image", price = 0.01 }]
[models."b"]
kind = "fixed"
aliases = ["a"]
units = [{ measure = "image", price = 0.02 }]
""",
        ".toml",
    )
    assert table.estimate("a", {}, 1).nanos == 10_000_000


def test_default_price_is_the_setting() -> None:
    table = load_price_table(None, Decimal("0.5"))
    assert table.estimate("unknown", {}, 2).nanos == 1_000_000_000


def test_estimates_from_what_the_registry_prepares(builtin: PriceTable, table: PriceTable) -> None:
    """The pipeline estimates from the prepared request: defaults filled in, OpenAI's
    ``size`` translated into the model's own field."""
    registry = Registry.load()
    dall_e = registry.prepare({"model": "dall-e-3", "prompt": "a fox"})
    assert builtin.estimate(dall_e.model.id, dall_e.cache_fields, dall_e.images).nanos == (
        52_000_000
    )
    flux = registry.prepare({"model": "flux/dev", "prompt": "a fox", "n": 2, "size": "1024x768"})
    assert flux.images == 2
    assert table.estimate(flux.model.id, flux.cache_fields, flux.images).nanos == 39_321_600
    gpt = registry.prepare(
        {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "high", "size": "1536x1024"}
    )
    assert builtin.estimate(gpt.model.id, gpt.cache_fields, gpt.images).nanos == 325_000_000


def test_every_openai_quality_and_size_the_registry_accepts_has_a_price(
    builtin: PriceTable,
) -> None:
    registry = Registry.load()
    for model in ("dall-e-2", "dall-e-3", "openai/gpt-image-1", "openai/gpt-image-1-mini"):
        spec = registry.get(model)
        assert spec is not None and spec.values("size")
        price = builtin.get(model)
        assert price is not None
        qualities = spec.values("quality") or (None,)
        for quality in qualities:
            for size in spec.values("size"):
                wanted = {("size", size)} | ({("quality", quality)} if quality else set())
                assert any(set(v.when) == wanted for v in price.variants), (model, quality, size)


FIELD_VALUES = {
    "num_inference_steps": st.sampled_from([4, 28, 4.0, 28.0, "4", True, 4.5]),
    "enhance": st.sampled_from([True, False, "true", 1, 0]),
    "resolution": st.sampled_from(["1K", "2K", "4K"]),
    "size": st.sampled_from(["1024x1024", "1536x1024", "1024X1024", "huge"]),
    "image_size": st.sampled_from(
        ["square_hd", "landscape_16_9", {"width": 1000, "height": 1000}, {"width": 1000}]
    ),
    "width": st.sampled_from([1024, 1024.0, 2048, "1024"]),
    "height": st.sampled_from([768, 768.0, "768"]),
    "quality": st.sampled_from(["standard", "hd", "high", "low"]),
    "prompt": st.text(max_size=8),
}
REQUESTS = st.lists(
    st.tuples(
        st.sampled_from(["my/steps", "my/variants-mp", "flux/dev", "dall-e-3", "my/unknown"]),
        st.fixed_dictionaries({}, optional=FIELD_VALUES),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=REQUESTS)
def test_a_remembered_quote_is_the_one_a_fresh_table_gives(
    prices_from: PricesFrom, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    """Estimates are remembered per model and pricing fields: whatever came before, a table
    answers each request as a table that never saw another one would."""
    remembering = prices_from(OPERATOR, ".toml")
    layers = [remembering.models()]
    for model, fields in requests:
        fresh = PriceTable(layers, DEFAULT).estimate(model, fields, 3)
        assert remembering.estimate(model, fields, 3) == fresh


def test_remembered_quotes_are_bounded(builtin: PriceTable) -> None:
    table = PriceTable([builtin.models()], DEFAULT)
    for n in range(MAX_QUOTES * 2 + 10):
        table.estimate("dall-e-3", {"size": f"{n}x1024"}, 1)
    assert len(table._quotes) <= MAX_QUOTES
    assert table.estimate("dall-e-3", {"size": "1024x1024", "quality": "hd"}, 1).nanos > 0
