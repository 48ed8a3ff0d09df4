"""What a benchmark's figures were measured on: the machine and the commit.

Every bench (``python -m bench``, ``bench.compare``, ``bench.keys``) writes this beside its
figures, so that a table read later can be told apart from one taken elsewhere or on
other code.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


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
