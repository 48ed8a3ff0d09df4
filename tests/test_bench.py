"""The benchmark harness's own logic: reading wrk's report and printing the table.

Timings are never asserted; these keep the harness from misreading what wrk prints.
"""

from __future__ import annotations

import os
import re

from bench.machine import machine
from bench.report import Row, table, team_ratios
from bench.wrk import WrkResult, parse

REPORT = """Running 10s test @ http://127.0.0.1:8080/v1/images/generations
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.47ms  612.10us  21.30ms   91.20%
    Req/Sec     6.52k   311.42     7.10k    70.50%
  Latency Distribution
     50%    2.39ms
     75%    2.61ms
     90%    2.95ms
     99%    3.38ms
  130650 requests in 10.00s, 61.23MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  13065.00
Transfer/sec:      6.12MB
"""


def test_a_wrk_report_is_read_in_milliseconds() -> None:
    result = parse(REPORT)
    assert result == WrkResult(
        rps=13065.0,
        p50_ms=2.39,
        p99_ms=3.38,
        requests=130650,
        non_2xx=7,
        socket_errors=3,
        mean_ms=2.47,
    )


def test_seconds_and_microseconds_are_converted() -> None:
    slow = (
        REPORT.replace("2.47ms", "2.05s").replace("2.39ms", "2.02s").replace("3.38ms", "850.00us")
    )
    result = parse(slow)
    assert (result.mean_ms, result.p50_ms, result.p99_ms) == (2050.0, 2020.0, 0.85)


def test_an_empty_report_reads_as_nothing_done() -> None:
    result = parse("")
    assert result.requests == 0 and result.rps == 0.0 and result.socket_errors == 0


def test_the_table_shows_ratio_added_latency_and_closed_loop_throughput() -> None:
    gateway = WrkResult(
        rps=448.0,
        p50_ms=2020.0,
        p99_ms=2320.0,
        requests=9001,
        non_2xx=0,
        socket_errors=0,
        mean_ms=2062.0,
    )
    direct = WrkResult(
        rps=450.0,
        p50_ms=2010.0,
        p99_ms=2130.0,
        requests=9015,
        non_2xx=0,
        socket_errors=0,
        mean_ms=2020.0,
    )
    row = Row("slow 2s", "redis", 1000, gateway, direct, cpu_us=304.0)
    assert round(row.steady_rps()) == 485
    line = table([row]).splitlines()[-1].split()
    assert line[:4] == ["slow", "2s", "redis", "1000"]
    assert line[6] == "1.00"
    assert line[11] == "10.00" and line[12] == "304" and line[13] == "485"


def test_the_machine_is_described_with_the_commit() -> None:
    where = machine()
    assert where["cpus"] == os.cpu_count()
    assert where["cpu"] and where["python"].count(".") == 2
    assert re.fullmatch(r"[0-9a-f]{7,}(-dirty)?|unknown", where["commit"])


def test_the_team_miss_is_compared_with_the_plain_miss_of_the_same_run() -> None:
    def run(rps: float) -> WrkResult:
        return WrkResult(rps, 1.0, 2.0, 100, 0, 0, 1.0)

    rows = [
        Row("miss", "redis", 1, run(100.0), None),
        Row("miss", "redis", 32, run(1000.0), None),
        Row("miss team", "redis", 32, run(930.0), None),
        Row("miss", "embedded", 32, run(2000.0), None),
        Row("miss team", "embedded", 32, run(1900.0), None),
    ]
    assert team_ratios(rows) == {"redis": 0.93, "embedded": 0.95}
