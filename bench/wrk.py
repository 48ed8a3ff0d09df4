"""Drive wrk with a generated Lua script and parse what it prints."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
local counter = 0
local unique = {unique}
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
request = function()
  counter = counter + 1
  local prompt = "{prompt}"
  if unique then
    prompt = prompt .. " " .. math.random(1, 1000000000) .. "-" .. counter
  end
  return wrk.format(nil, nil, nil,
    '{{"model": "dall-e-2", "prompt": "' .. prompt .. '"}}')
end
"""


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and errors."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    mean_ms: float = float("nan")


def wrk_binary() -> str:
    """wrk from Debian's packages (apt-get install wrk)."""
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk not found: apt-get install wrk")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        return float("nan")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse(output: str) -> WrkResult:
    """Read wrk's --latency report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    mean = re.search(r"^\s+Latency\s+(\S+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        requests=int(total.group(1)) if total else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sockets.groups()) if sockets else 0,
        mean_ms=_ms(mean.group(1)) if mean else float("nan"),
    )


def run(
    url: str, key: str, *, connections: int, seconds: float, unique: bool, prompt: str = "bench"
) -> WrkResult:
    """POST image requests at ``url`` for ``seconds`` with ``connections`` open."""
    script = SCRIPT.format(key=key, unique="true" if unique else "false", prompt=prompt)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = Path(handle.name)
    threads = max(1, min(2, connections))
    command = (
        f"ulimit -n 65536 2>/dev/null; exec {wrk_binary()} -t{threads} "
        f"-c{connections} -d{max(1, round(seconds))}s --timeout 10s --latency "
        f"-s {path} {url}"
    )
    try:
        done = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)
