"""The cache policy: canonical keys, link expiry, what may be stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cache.policy import (
    CacheControl,
    CachePolicy,
    cache_key,
    is_complete,
    stored_answer,
    stored_body,
    url_expiry,
)

NOW = 1_800_000_000.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_key_ignores_field_order_and_depends_on_values() -> None:
    one = cache_key("k1", {"model": "m", "prompt": "p", "n": 1})
    same = cache_key("k1", {"n": 1, "prompt": "p", "model": "m"})
    assert one == same and one.startswith("k1:")
    assert cache_key("k1", {"model": "m", "prompt": "p ", "n": 1}) != one
    assert cache_key("k2", {"model": "m", "prompt": "p", "n": 1}) != one


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=5),
        max_size=6,
    )
)
def test_key_is_order_independent(fields: dict[str, object]) -> None:
    reordered = dict(reversed(list(fields.items())))
    assert cache_key("s", fields) == cache_key("s", reordered)


def test_azure_se_expiry() -> None:
    url = f"https://x.blob.core.windows.net/a.png?st=2025&se={iso(NOW + 300)}&sp=r&sig=abc"
    assert url_expiry(url, NOW) == NOW + 300


def test_s3_and_gcs_and_cloudfront_expiry() -> None:
    amz = "https://s3.example/a.png?X-Amz-Date=20270115T080000Z&X-Amz-Expires=600"
    start = datetime(2027, 1, 15, 8, tzinfo=UTC).timestamp()
    assert url_expiry(amz, None) == start + 600
    goog = "https://storage.googleapis.com/a.png?X-Goog-Date=20270115T080000Z&X-Goog-Expires=60"
    assert url_expiry(goog, None) == start + 60
    assert url_expiry("https://cdn.example/a.png?Expires=1800000500&Signature=x", None) == (
        1_800_000_500
    )


def test_dalle_link_without_expiry_lives_an_hour_after_created() -> None:
    url = "https://oaidalleapiprodscus.blob.core.windows.net/private/img.png?sig=abc"
    assert url_expiry(url, NOW) == NOW + 3600
    assert url_expiry("https://other.example/img.png", NOW) is None


def test_ttl_never_passes_the_earliest_link_less_margin() -> None:
    policy = CachePolicy(ttl=3600, url_margin=60, max_entry_bytes=1000)
    body = {
        "created": int(NOW),
        "data": [
            {"url": f"https://a.blob.core.windows.net/1.png?se={iso(NOW + 3600)}"},
            {"url": f"https://a.blob.core.windows.net/2.png?se={iso(NOW + 300)}"},
        ],
    }
    assert policy.expires_at(body, 100, NOW) == NOW + 240
    assert policy.expires_at({"data": [{"b64_json": "x"}]}, 100, NOW) == NOW + 3600


def test_nothing_stored_when_too_big_expired_or_ttl_zero() -> None:
    policy = CachePolicy(ttl=3600, url_margin=60, max_entry_bytes=1000)
    assert policy.expires_at({"data": []}, 1001, NOW) is None
    soon = {"data": [{"url": f"https://a.example/1.png?se={iso(NOW + 30)}"}]}
    assert policy.expires_at(soon, 10, NOW) is None
    assert CachePolicy(ttl=0, url_margin=0, max_entry_bytes=10).expires_at({}, 1, NOW) is None


def test_complete_answers_only() -> None:
    assert is_complete({"data": [{"url": "a"}, {"url": "b"}]}, 2)
    assert not is_complete({"data": [{"url": "a"}]}, 2)
    assert not is_complete({"data": []}, 1)
    assert not is_complete({"error": "x"}, 1)


def test_cache_control() -> None:
    assert CacheControl.parse(None) == CacheControl(lookup=True, store=True)
    assert CacheControl.parse("no-cache") == CacheControl(lookup=False, store=True)
    assert CacheControl.parse("max-age=0, No-Store") == CacheControl(lookup=False, store=False)


@pytest.mark.parametrize("status", [200, 201, 203])
def test_a_stored_answer_keeps_its_status(status: int) -> None:
    body = b'{"created": 1, "data": [{"url": "https://x/1.png"}]}'
    assert stored_answer(stored_body(status, body)) == (status, body)


def test_answers_stored_before_statuses_were_kept_read_back_as_200() -> None:
    assert stored_answer(b'{"data": []}') == (200, b'{"data": []}')
