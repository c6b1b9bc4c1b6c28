"""CPU time from /proc: of one process, and of the whole machine (to see who else was busy)."""

from __future__ import annotations

import os
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    # The fields after "(comm)"; index 0 is field 3 of proc(5).
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_ticks(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of proc(5))


def parent_of(pid: int) -> int:
    return int(_stat(pid)[1])


def family_ticks(parent: int) -> int:
    """CPU ticks of ``parent``, its live children, and its children that have exited.

    For PostgreSQL's postmaster this is all of PostgreSQL: the postmaster (which forks a backend
    for every new connection), the backends that live through a run, and the ones a churning
    connection pool opens and closes during it.
    """
    fields = _stat(parent)
    total = int(fields[11]) + int(fields[12])  # utime + stime of the parent itself
    total += int(fields[13]) + int(fields[14])  # cutime + cstime: children already reaped
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = _stat(entry.name)
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited while we looked
        if int(child[1]) == parent:
            total += int(child[11]) + int(child[12])
    return total


def machine_ticks() -> tuple[int, int]:
    """Ticks all CPUs spent running processes, and all ticks, from the first line of /proc/stat.

    Interrupt and softirq time (the loopback traffic itself) belong to no process and are left out
    of the first figure, so that a fast run's own network work is not mistaken for someone else's.
    """
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    )
    return user + nice + system, user + nice + system + idle + iowait + irq + softirq + steal


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many cores' worth of work the machine did between two ``machine_ticks()`` samples."""
    cores = os.cpu_count() or 1
    return cores * (after[0] - before[0]) / max(1, after[1] - before[1])


def background_busy(seconds: float = 3.0) -> float:
    """Cores' worth of work done by others while the suite sits idle, e.g. before its first run."""
    before = machine_ticks()
    time.sleep(seconds)
    return busy_cores(before, machine_ticks())


def peak_rss_mb(pid: int) -> float:
    """The most memory the process has held resident since it started (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return 0.0
