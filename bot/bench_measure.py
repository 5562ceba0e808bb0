"""``make bench``: what is measured of a process, and how a list of timings is summarised."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

from bot.paths import ROOT


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    # The smallest value with at least q % of the values at or below it: rank ceil(q/100 · n).
    # (This used round(q/100 · n + 0.5), whose round-half-to-even made p99 of 300 the 298th
    # value, not the 297th.) The epsilon keeps 0.99 · 300 = 297.00000000000006 at rank 297.
    rank = math.ceil(q / 100 * len(ordered) - 1e-9)
    return ordered[max(0, min(len(ordered), rank) - 1)]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process and its children, in MiB (2**20 bytes, from /proc's kB,
    which are KiB). ``field`` "RssFile": only the part that maps files (shared libraries), which
    the kernel can drop and read back. The results keep the key ``rss_mb`` for older reports."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        pids += [int(p) for p in children.stdout.split()]
    except OSError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def training_seconds() -> float | None:
    """The recorded training time of the current model (``bot.model`` writes it)."""
    from bot.model import _meta, model_name

    meta = _meta(ROOT / "models" / f"{model_name()}.tar.gz")
    if meta.exists():
        return json.loads(meta.read_text()).get("training_seconds")
    return None
