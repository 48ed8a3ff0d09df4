"""Running loads in turns and keeping each one's median run.

On a shared machine the same code varies between runs minutes apart, so a ratio is only
read from loads driven alternately in the same moments (``python -m bench`` and
``bench.compare`` both do so), each repeated and its median run kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.wrk import WrkResult

Load = Callable[[], WrkResult]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alternate(
    loads: Sequence[tuple[Load, int | None]], repeat: int, *, swap: bool = False
) -> list[tuple[WrkResult, float]]:
    """Run each load in turn ``repeat`` times (every other round in reverse order when
    ``swap``, so neither side always runs second); keep each one's median run (by
    throughput), so a noisy moment on a shared machine skews none of them, and the median
    CPU time per request (microseconds) of the process ``pid`` it loads, when given."""
    runs: list[list[WrkResult]] = [[] for _ in loads]
    cpu: list[list[float]] = [[] for _ in loads]
    for round_ in range(repeat):
        order = list(enumerate(loads))
        if swap and round_ % 2:
            order.reverse()
        for index, (load, pid) in order:
            before = cpu_seconds(pid) if pid else 0.0
            runs[index].append(load())
            if pid:
                used = cpu_seconds(pid) - before
                cpu[index].append(used * 1e6 / max(1, runs[index][-1].requests))
    return [
        (median(done), sorted(used)[len(used) // 2] if used else float("nan"))
        for done, used in zip(runs, cpu, strict=True)
    ]


def paired(
    gateway: Load, direct: Load, repeat: int, pid: int
) -> tuple[WrkResult, WrkResult, float]:
    """The gateway and the direct load alternately: the gateway's median run, the direct
    one's, and the gateway's median CPU time per request."""
    (mine, cpu), (theirs, _) = alternate([(gateway, pid), (direct, None)], repeat)
    return mine, theirs, cpu


def median(runs: list[WrkResult]) -> WrkResult:
    """The run with the median throughput."""
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
