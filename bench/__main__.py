"""``python -m bench [--smoke]``: start everything on loopback, measure, print, write JSON.

Every gateway figure is paired with the same requests sent straight to the fake upstream
in the same run, so the table reports ratios, not absolute numbers alone; so is the edits
scenario (:mod:`bench.edits`: multipart uploads, and the gateway's peak memory with large
uploads in flight). The request log's
cost is measured the same way: misses at c=32 on two fresh Redis-mode gateways, one with
the log on and one with it off (``GATEWAY_REQUEST_LOG_ENABLED=false``), run in turns.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import edits
from bench.edits import rss_mb
from bench.wrk import WrkResult, run
from gateway.testing.procs import Proc, free_port, port_open, spawn, start_redis

UPSTREAM_KEY = "test-upstream-key"
ADMIN = "bench-admin-token-0123456789abcdef"
GENERATIONS = "/v1/images/generations"


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


def start_gateway(
    upstream: Proc, env: dict[str, str], checkout: Path | None = None
) -> tuple[Proc, float]:
    """``gateway serve`` and the seconds until /readyz answers 200: this checkout's, or
    that of another ``checkout`` (run by its own ``.venv``, from its own directory, so its
    own code is imported: ``python -m bench.compare`` measures an older commit so)."""
    port = free_port()
    started = time.perf_counter()

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).is_success
        except httpx.HTTPError:
            return False

    python = sys.executable if checkout is None else str(checkout / ".venv" / "bin" / "python")
    proc = spawn(
        [python, "-m", "gateway", "serve", "--port", str(port)],
        port,
        ready,
        cwd=checkout,
        env={
            "GATEWAY_UPSTREAM_URL": upstream.url,
            "GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY,
            "GATEWAY_ADMIN_TOKEN": ADMIN,
            "GATEWAY_LOG_LEVEL": "warning",
            **env,
        },
    )
    return proc, time.perf_counter() - started


def create_key(gateway: Proc, **limits: int | str) -> str:
    """A client key with the given limits (and ``team_id``)."""
    response = httpx.post(
        f"{gateway.url}/admin/keys",
        json={"name": "bench", **limits},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    response.raise_for_status()
    key: str = response.json()["key"]
    return key


def create_team_key(gateway: Proc) -> str:
    """A key with USD budgets in a team with budgets and quotas: every request is admitted
    against both (large enough never to refuse during the run)."""
    budgets = {"rpm": 1_000_000_000, "images_per_day": 1_000_000_000}
    response = httpx.post(
        f"{gateway.url}/admin/teams",
        json={"name": "bench", "usd_per_day": 9_000_000, "usd_per_month": 9_000_000, **budgets},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    response.raise_for_status()
    return create_key(gateway, team_id=response.json()["id"], usd_per_day=9_000_000, **budgets)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Load = Callable[[], WrkResult]


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


def log_rows(upstream: Proc, redis_url: str, seconds: float, repeat: int) -> list[Row]:
    """Misses at c=32 with the request log on and off: two fresh gateways on one Redis,
    loaded in turns."""
    started: list[Proc] = []
    try:
        for enabled in ("true", "false"):
            env = {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_REQUEST_LOG_ENABLED": enabled}
            started.append(start_gateway(upstream, env)[0])
        loads: list[tuple[Load, int | None]] = []
        for gateway in started:
            key = create_key(gateway, rpm=1_000_000_000, images_per_day=1_000_000_000)
            load = functools.partial(
                run,
                f"{gateway.url}{GENERATIONS}",
                key,
                connections=32,
                seconds=seconds,
                unique=True,
            )
            loads.append((load, gateway.popen.pid))
        (on, on_cpu), (off, off_cpu) = alternate(loads, repeat, swap=True)
    finally:
        for proc in started:
            proc.stop()
    return [
        Row("log on", "redis", 32, on, None, on_cpu),
        Row("log off", "redis", 32, off, None, off_cpu),
    ]


def log_ratio(rows: list[Row]) -> float | None:
    """Miss throughput with the request log on over the same with it off."""
    found = {r.scenario: r.gateway.rps for r in rows if r.scenario in ("log on", "log off")}
    if not found.get("log off") or "log on" not in found:
        return None
    return found["log on"] / found["log off"]


def median(runs: list[WrkResult]) -> WrkResult:
    """The run with the median throughput."""
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def scenarios(
    gateway: Proc,
    upstream: Proc,
    mode: str,
    seconds: float,
    slow_seconds: float,
    slow_c: int,
    full: bool,
    repeat: int,
) -> list[Row]:
    """The load scenarios for one gateway."""
    fast = create_key(gateway, rpm=1_000_000_000, images_per_day=1_000_000_000)
    budgeted = create_team_key(gateway)
    refused = create_key(gateway, rpm=1)
    httpx.post(
        f"{gateway.url}{GENERATIONS}",
        json={"model": "dall-e-2", "prompt": "warm"},
        headers={"authorization": f"Bearer {refused}"},
        timeout=10,
    )
    httpx.post(
        f"{gateway.url}{GENERATIONS}",
        json={"model": "dall-e-2", "prompt": "hit"},
        headers={"authorization": f"Bearer {fast}"},
        timeout=10,
    )
    gw, direct = f"{gateway.url}{GENERATIONS}", f"{upstream.url}{GENERATIONS}"
    rows: list[Row] = []
    # Loads in one group run in turns with the same direct load, so that a ratio between
    # them (the team's miss over the plain miss) is read from the same moments.
    groups: list[list[tuple[str, int, bool, str]]] = []
    if full:
        groups.append([("miss", 1, True, fast)])
    groups.append([("miss", 32, True, fast), ("miss team", 32, True, budgeted)])
    groups += [[("hit", c, False, fast)] for c in ((1, 32) if full else (32,))]
    if full:
        groups.append([("refused", 32, False, refused)])
    for group in groups:
        first, c, unique, _ = group[0]
        theirs_key = "wrong-key" if first == "refused" else UPSTREAM_KEY
        loads: list[tuple[Load, int | None]] = [
            (
                functools.partial(
                    run,
                    gw,
                    key,
                    connections=c,
                    seconds=seconds,
                    unique=unique,
                    prompt="hit" if name == "hit" else name.replace(" ", "-"),
                ),
                gateway.popen.pid,
            )
            for name, _, _, key in group
        ]
        loads.append(
            (
                functools.partial(
                    run, direct, theirs_key, connections=c, seconds=seconds, unique=unique
                ),
                None,
            )
        )
        *figures, (direct_run, _) = alternate(loads, repeat, swap=len(group) > 1)
        for (name, *_), (result, cpu) in zip(group, figures, strict=True):
            rows.append(Row(name, mode, c, result, direct_run, cpu))
    if full:
        httpx.post(f"{upstream.url}/_control", json={"latency": 2.0}, timeout=5)
        mine, theirs, cpu = paired(
            functools.partial(run, gw, fast, connections=slow_c, seconds=slow_seconds, unique=True),
            functools.partial(
                run, direct, UPSTREAM_KEY, connections=slow_c, seconds=slow_seconds, unique=True
            ),
            repeat,
            gateway.popen.pid,
        )
        httpx.post(f"{upstream.url}/_control", json={"latency": 0.0}, timeout=5)
        rows.append(Row("slow 2s", mode, slow_c, mine, theirs, cpu))
    return rows


def edit_figures(upstream: Proc, seconds: float, repeat: int, smoke: bool) -> dict[str, Any]:
    """The edits scenario on a gateway of its own (so its peak memory is the edits')."""
    store = Path(tempfile.mkdtemp(prefix="bench-edits-")) / "store.json"
    gateway, _ = start_gateway(upstream, {"GATEWAY_STORE_PATH": str(store)})
    try:
        key = create_key(gateway, rpm=1_000_000_000, images_per_day=1_000_000_000)
        return edits.run(
            gateway.url,
            gateway.popen.pid,
            key,
            upstream.url,
            UPSTREAM_KEY,
            seconds=seconds,
            repeat=repeat,
            hold=0.5 if smoke else 2.0,
        )
    finally:
        gateway.stop()


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


def machine() -> dict[str, Any]:
    """What the figures were measured on, so a table can be told apart from another:
    CPU model and count, Python, the OS, and the commit (when run from a git checkout)."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "machine": platform.machine(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.system(),
        "commit": commit_of(),
    }


def commit_of(checkout: Path | None = None) -> str:
    """The commit of ``checkout`` (this directory's when None), ``-dirty`` when changed."""
    where = ["-C", str(checkout)] if checkout is not None else []
    try:
        commit = subprocess.run(
            ["git", *where, "describe", "--always", "--dirty", "--exclude", "*"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return commit or "unknown"


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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit non-zero when an expected-clean scenario had errors."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--smoke", action="store_true", help="about a second per scenario")
    parser.add_argument(
        "--core",
        action="store_true",
        help="only miss and hit at c=32 on Redis, full length: for before/after comparisons",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per figure, median kept (default 3; 1 with --smoke)",
    )
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    full = not (args.smoke or args.core)
    repeat = args.repeat or (1 if args.smoke else 3)
    seconds, slow_seconds, slow_c = (1.0, 3.0, 50) if args.smoke else (10.0, 20.0, 1000)
    idle = after = startup = float("nan")
    rows: list[Row] = []
    procs: list[Proc] = []
    edited: dict[str, Any] | None = None
    try:
        redis = start_redis()
        procs.append(redis)
        up_port = free_port()
        upstream = spawn(
            [
                sys.executable,
                "-m",
                "gateway",
                "fake-upstream",
                "--port",
                str(up_port),
                "--api-key",
                UPSTREAM_KEY,
            ],
            up_port,
            lambda: port_open(up_port),
        )
        procs.append(upstream)
        redis_url = f"redis://127.0.0.1:{redis.port}/0"
        gateway, startup = start_gateway(upstream, {"GATEWAY_REDIS_URL": redis_url})
        procs.append(gateway)
        idle = rss_mb(gateway.popen.pid)
        rows += scenarios(gateway, upstream, "redis", seconds, slow_seconds, slow_c, full, repeat)
        after = rss_mb(gateway.popen.pid)
        if not args.core:
            rows += log_rows(upstream, redis_url, seconds, repeat)
        if not args.core:
            store = Path(tempfile.mkdtemp(prefix="bench-store-")) / "store.json"
            embedded, _ = start_gateway(upstream, {"GATEWAY_STORE_PATH": str(store)})
            procs.append(embedded)
            rows += scenarios(
                embedded, upstream, "embedded", seconds, slow_seconds, slow_c, False, repeat
            )
            edited = edit_figures(upstream, seconds, repeat, args.smoke)
    finally:
        for proc in reversed(procs):
            proc.stop()
    return report(args, rows, repeat, idle, after, startup, edited)


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


if __name__ == "__main__":
    sys.exit(main())
