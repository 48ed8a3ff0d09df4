"""An answered request becomes one entry from what its state already holds."""

from __future__ import annotations

import time
from typing import Any

from gateway.observability.recorder import Recorder
from gateway.observability.request_log import MAX_PROMPT_CHARS, RequestLog
from tests.observability.test_recorder import ListJournal

NOW = 1_800_000_000.0


def state(**extra: Any) -> dict[str, Any]:
    return {
        "request_id": "req_1",
        "key_id": "key_a",
        "model": "flux-schnell",
        "metric_model": "flux/schnell",
        "images": 2,
        "cache": "MISS",
        "upstream_seconds": 0.25,
        "prompt": "a lighthouse",
        **extra,
    }


async def test_an_entry_has_what_the_request_knew() -> None:
    recorder = Recorder(ListJournal())
    log = RequestLog(recorder, lambda: NOW)
    started = time.perf_counter()
    log.record(state(), 201, started, "generations", {"x-gateway-cost-usd": "0.006"})
    await recorder.flush()
    (entry,) = recorder._journal.batches[0]  # type: ignore[attr-defined]
    assert entry.request_id == "req_1" and entry.endpoint == "generations"
    assert (entry.key_id, entry.model, entry.images, entry.cache) == (
        "key_a",
        "flux/schnell",
        2,
        "MISS",
    )
    assert (entry.status, entry.cost_usd, entry.upstream_ms) == (201, "0.006", 250.0)
    assert entry.prompt is None and entry.team_id is None and entry.upstream_inference_id is None
    assert NOW - 1 < entry.created_at <= NOW and entry.latency_ms >= 0


async def test_the_team_and_the_upstreams_inference_id_are_carried_over() -> None:
    journal = ListJournal()
    recorder = Recorder(journal)
    log = RequestLog(recorder, lambda: NOW)
    log.record(
        state(team_id="team_a", upstream_inference_id="inf-7"), 201, time.perf_counter(), "edits"
    )
    await recorder.flush()
    (entry,) = journal.batches[0]
    assert (entry.key_id, entry.team_id, entry.upstream_inference_id) == (
        "key_a",
        "team_a",
        "inf-7",
    )


async def test_a_refusal_keeps_its_code_and_the_model_asked_for() -> None:
    journal = ListJournal()
    recorder = Recorder(journal)
    log = RequestLog(recorder, lambda: NOW)
    refused = {"request_id": "req_2", "model": "no-such-model", "error_code": "model_not_found"}
    log.record(refused, 400, time.perf_counter(), "edits")
    await recorder.flush()
    (entry,) = journal.batches[0]
    assert (entry.model, entry.error_code, entry.images, entry.cache) == (
        "no-such-model",
        "model_not_found",
        0,
        None,
    )
    assert entry.upstream_ms is None and entry.cost_usd is None and entry.endpoint == "edits"


async def test_prompts_only_when_asked_and_cut_to_a_bound() -> None:
    journal = ListJournal()
    recorder = Recorder(journal)
    RequestLog(recorder, lambda: NOW, prompts=True).record(
        state(prompt="p" * (MAX_PROMPT_CHARS + 10)), 201, time.perf_counter(), "generations"
    )
    RequestLog(recorder, lambda: NOW).record(state(), 201, time.perf_counter(), "generations")
    await recorder.flush()
    first, second = journal.batches[0]
    assert first.prompt == "p" * MAX_PROMPT_CHARS and second.prompt is None


def test_off_means_nothing_is_built_and_prompts_are_not_kept() -> None:
    log = RequestLog(None, lambda: NOW, prompts=True)
    assert log.prompts is False
    log.record(state(), 201, time.perf_counter(), "generations")


async def test_a_state_it_cannot_read_never_raises() -> None:
    journal = ListJournal()
    recorder = Recorder(journal)
    log = RequestLog(recorder, lambda: NOW)
    log.record({}, 500, time.perf_counter(), "generations")
    log.record(state(upstream_seconds="not a number"), 500, time.perf_counter(), "generations")
    await recorder.flush()
    assert journal.batches == []
