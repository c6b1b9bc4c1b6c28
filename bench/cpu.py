"""CPU time from /proc: of one process, and of the whole machine (to see who else was busy)."""

from __future__ import annotations

import os
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of proc(5))


def machine_ticks() -> tuple[int, int]:
    """Busy and total ticks of all CPUs together, from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many cores' worth of work the machine did between two ``machine_ticks()`` samples."""
    cores = os.cpu_count() or 1
    return cores * (after[0] - before[0]) / max(1, after[1] - before[1])


def background_busy(seconds: float = 3.0) -> float:
    """Cores' worth of work done by others while the suite sits idle, e.g. before its first run."""
    before = machine_ticks()
    time.sleep(seconds)
    return busy_cores(before, machine_ticks())
