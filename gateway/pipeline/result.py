"""What one image request answers with, and what its logs, metrics and usage report.

Kept apart from the pipeline that produces it: the web routes and the request log read it,
and it is built in three places the same way (a fresh upstream answer, a cache hit at
admission, a single-flight follower's share of its leader's answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.billing.reported import ReportedCost
from gateway.cache.policy import stored_answer
from gateway.pipeline.upstream_call import Generated
from gateway.store.types import CacheEntry

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"


@dataclass(slots=True)
class GenerationResult:
    """What the route answers with, plus what logs and metrics report."""

    body: bytes
    status: int
    images: int
    cache: str
    model: str
    headers: dict[str, str] = field(default_factory=dict)
    upstream_seconds: float = 0.0
    upstream_status: int | None = None
    cost: ReportedCost | None = None
    """What the upstream reported this call cost (None for answers from the cache)."""
    cost_nanos: int = 0
    """What this request was charged (``x-gateway-cost-usd``): 0 for answers from the cache."""

    @property
    def upstream_inference_id(self) -> str | None:
        """The id the upstream records this call's charge under (``x-inference-id``), to
        match it in the upstream's usage logs; None for answers from the cache."""
        return self.cost.inference_id if self.cost is not None else None


def generated_result(
    generated: Generated, cache: str, model: str, headers: dict[str, str]
) -> GenerationResult:
    """An upstream answer as the result (``cache`` HIT when shared by its leader: then
    without the upstream's cost, which the leader's request was charged)."""
    return GenerationResult(
        generated.body,
        generated.status,
        generated.images,
        cache,
        model,
        dict(headers),
        generated.upstream_seconds,
        generated.status,
        generated.cost if cache != HIT else None,
    )


def cached_result(
    entry: CacheEntry, model: str, headers: dict[str, str], now: float
) -> GenerationResult:
    """A cached answer as a HIT, with its ``age`` in whole seconds at ``now``."""
    age = max(0, int(now - entry.stored_at))
    status, cached = stored_answer(entry.body)
    return GenerationResult(cached, status, entry.images, HIT, model, {**headers, "age": str(age)})
