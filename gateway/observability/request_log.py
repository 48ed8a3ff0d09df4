"""The request log's one hook: an answered image request becomes an entry.

Image routes call :meth:`RequestLog.record` once per request, after the access log, with
what the access log knows: the request's ``state`` (request id, key id and its team's id,
model, images, cache result, upstream time, the upstream's ``x-inference-id``, error code;
``prompt`` only when prompts are logged), the status,
when it started (``time.perf_counter()``), the endpoint (``generations`` or ``edits``) and
the headers of the answer, if it was a success (its ``x-gateway-cost-usd``, when the
gateway prices requests). Building the entry reads values already at hand and appends it
to the recorder's buffer: no await, no I/O, nothing that can fail the request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from gateway.observability.clock import Clock
from gateway.observability.recorder import Probe, Recorder
from gateway.store.journal import RequestEntry

COST_HEADER = "x-gateway-cost-usd"
MAX_PROMPT_CHARS = 4000

log = logging.getLogger("gateway.requests")


class RequestLog:
    """Builds request-log entries for a recorder (none: the log is off)."""

    def __init__(self, recorder: Recorder | None, clock: Clock, *, prompts: bool = False) -> None:
        self._recorder = recorder
        self._clock = clock
        self.prompts = prompts and recorder is not None
        self._broken = False

    def store_outage_reported(self, probe: Probe) -> None:
        """The store did not answer at start-up and said so in its own warning line: see
        :meth:`Recorder.store_outage_reported`."""
        if self._recorder is not None:
            self._recorder.store_outage_reported(probe)

    def record(
        self,
        state: dict[str, Any],
        status: int,
        started: float,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Hand one finished request to the recorder; never raises."""
        recorder = self._recorder
        if recorder is None:
            return
        try:
            elapsed = time.perf_counter() - started
            get = state.get
            upstream = get("upstream_seconds")
            prompt = get("prompt") if self.prompts else None
            recorder.record(
                RequestEntry(
                    state["request_id"],
                    int((self._clock() - elapsed) * 1000) / 1000,
                    endpoint,
                    status,
                    get("key_id"),
                    get("team_id"),
                    get("metric_model") or get("model"),
                    get("error_code"),
                    get("images") or 0,
                    get("cache"),
                    headers.get(COST_HEADER) if headers else None,
                    int(elapsed * 1_000_000) / 1000,
                    int(upstream * 1_000_000) / 1000 if upstream else None,
                    get("upstream_inference_id"),
                    prompt[:MAX_PROMPT_CHARS] if isinstance(prompt, str) else None,
                )
            )
        except Exception:  # a log entry must never fail the request it describes
            if not self._broken:
                self._broken = True
                log.exception("a request-log entry could not be built")
