"""The benchmark's result: its rows, the table they print as, and the JSON they are kept in.

Kept apart from running the scenarios so that what a run reports (ratios to the direct
load, added latency, closed-loop throughput, the team and request-log ratios) can be
tested without starting anything.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from bench import edits
from bench.machine import machine
from bench.wrk import WrkResult


@dataclass
class Row:
    """One scenario's gateway and direct figures."""

    scenario: str
    mode: str
    concurrency: int
    gateway: WrkResult
    direct: WrkResult | None
    cpu_us: float = float("nan")

    def ratio(self) -> float | None:
        if self.direct is None or not self.direct.rps:
            return None
        return self.gateway.rps / self.direct.rps

    def steady_rps(self) -> float:
        """Closed-loop throughput by Little's law: connections / mean latency. wrk counts
        only requests finished inside its window, which with 2 s answers loses the last
        round; this does not."""
        return self.concurrency / (self.gateway.mean_ms / 1000) if self.gateway.mean_ms else 0.0


def log_ratio(rows: list[Row]) -> float | None:
    """Miss throughput with the request log on over the same with it off."""
    found = {r.scenario: r.gateway.rps for r in rows if r.scenario in ("log on", "log off")}
    if not found.get("log off") or "log on" not in found:
        return None
    return found["log on"] / found["log off"]


def team_ratios(rows: list[Row]) -> dict[str, float]:
    """By store mode: the miss throughput at c=32 of a key in a team with USD budgets over
    that of the plain key, measured in the same run (the target is at least 0.9)."""
    found: dict[str, float] = {}
    for team in rows:
        if team.scenario != "miss team":
            continue
        plain = next(
            (r for r in rows if (r.scenario, r.mode, r.concurrency) == ("miss", team.mode, 32)),
            None,
        )
        if plain is not None and plain.gateway.rps:
            found[team.mode] = team.gateway.rps / plain.gateway.rps
    return found


def table(rows: list[Row]) -> str:
    """The human-readable result."""
    head = (
        f"{'scenario':<9} {'mode':<9} {'c':>5} {'gw rps':>9} {'direct rps':>10} "
        f"{'ratio':>6} {'gw p50':>8} {'gw p99':>8} {'dir p50':>8} {'dir p99':>8} {'+p50':>7} "
        f"{'cpu us':>7} {'c/mean':>7} {'non2xx':>7} {'sockerr':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        d = r.direct
        ratio = r.ratio()
        lines.append(
            f"{r.scenario:<9} {r.mode:<9} {r.concurrency:>5} {r.gateway.rps:>9.0f} "
            f"{(d.rps if d else 0):>10.0f} {(f'{ratio:.2f}' if ratio else '-'):>6} "
            f"{r.gateway.p50_ms:>8.2f} {r.gateway.p99_ms:>8.2f} "
            f"{(d.p50_ms if d else 0):>8.2f} {(d.p99_ms if d else 0):>8.2f} "
            f"{(r.gateway.p50_ms - d.p50_ms if d else 0):>7.2f} "
            f"{r.cpu_us:>7.0f} {r.steady_rps():>7.0f} "
            f"{r.gateway.non_2xx:>7} {r.gateway.socket_errors:>7}"
        )
    return "\n".join(lines)


def report(
    args: argparse.Namespace,
    rows: list[Row],
    repeat: int,
    idle: float,
    after: float,
    startup: float,
    edited: dict[str, Any] | None = None,
) -> int:
    """Print the table and the machine, write the JSON; non-zero when an expected-clean
    scenario had errors."""
    print(table(rows))
    print(
        f"latencies in ms; +p50 = gateway median minus direct median; cpu us = gateway CPU "
        f"time per request; c/mean = connections / mean latency (closed-loop throughput); "
        f"each figure is the median of {repeat} run(s)"
    )
    print(
        f"gateway RSS idle {idle:.1f} MB, after runs {after:.1f} MB; start to ready {startup:.2f} s"
    )
    ratio = log_ratio(rows)
    if ratio is not None:
        print(
            f"request log: miss c=32 (redis) with the log on / off = {ratio:.3f} (target >= 0.95)"
        )
    ratios = team_ratios(rows)
    for mode, ratio in ratios.items():
        print(f"miss in a team with USD budgets / plain miss, c=32, {mode}: {ratio:.2f} (>= 0.9)")
    for line in edits.describe(edited) if edited is not None else []:
        print(line)
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    where = machine()
    print(
        f"{date}, commit {where['commit']}, {where['cpus']} x {where['cpu']}, "
        f"Python {where['python']}, {where['system']}"
    )
    result: dict[str, Any] = {
        "date": date,
        **where,
        "smoke": args.smoke,
        "repeat": repeat,
        "rows": [{**asdict(r), "ratio": r.ratio(), "steady_rps": r.steady_rps()} for r in rows],
        "rss_idle_mb": idle,
        "rss_after_mb": after,
        "startup_seconds": startup,
        "request_log_on_off_ratio": ratio,
        "team_to_plain_miss": ratios,
        "edits": edited,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    bad = [
        r
        for r in rows
        if r.scenario != "refused"
        and (r.gateway.non_2xx or r.gateway.socket_errors or not r.gateway.requests)
    ]
    for r in bad:
        print(f"errors in {r.scenario} ({r.mode}, c={r.concurrency})", file=sys.stderr)
    if edits.failed(edited):
        print("errors in the edits scenario", file=sys.stderr)
    return 1 if bad or edits.failed(edited) else 0
