"""One wrk run, pinned to WRK_CPU, and what it measured (with the CPU each side used meanwhile)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import cpu
from bench.config import LUA_DIR, WRK_CPU, Load
from bench.processes import spawn, stop

_MARKER = "BENCH_RESULT "


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed; install it with `apt-get install wrk`")
    if shutil.which("taskset") is None:
        raise SystemExit("bench: taskset is not installed; install it with `apt-get install util-linux`")
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("bench: needs two CPUs (the app on CPU 0, wrk on CPU 1); this process has one")


@dataclass(frozen=True, slots=True)
class Measurement:
    requests: int
    duration_us: int
    bytes: int
    socket_errors: dict[str, int]
    statuses: dict[str, int]
    latency_us: dict[str, float]
    # Cores' worth of work during the run (1.0 = one core all the time): the app's process, wrk,
    # PostgreSQL (all its processes), and the whole machine; what is left is someone else's.
    app_cpu: float
    wrk_cpu: float
    postgres_cpu: float
    machine_cpu: float
    # The app's peak resident memory since it started, read after the run (MiB).
    app_peak_rss_mb: float = 0.0

    @property
    def other_cpu(self) -> float:
        return max(0.0, self.machine_cpu - self.app_cpu - self.wrk_cpu - self.postgres_cpu)

    @property
    def requests_per_second(self) -> float:
        return self.requests / (self.duration_us / 1e6)

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not status.startswith("2"))

    @property
    def socket_error_count(self) -> int:
        return sum(self.socket_errors.values())

    @property
    def problems(self) -> list[str]:
        found = []
        if self.non_2xx:
            odd = ", ".join(f"{n} x {s}" for s, n in sorted(self.statuses.items()) if not s.startswith("2"))
            found.append(f"{self.non_2xx} non-2xx responses ({odd})")
        if self.socket_error_count:
            detail = ", ".join(f"{n} {kind}" for kind, n in self.socket_errors.items() if n)
            found.append(f"{self.socket_error_count} socket errors ({detail})")
        if self.requests == 0:
            found.append("no request completed")
        return found


def wrk_argv(
    url: str,
    load: Load,
    seconds: int,
    *,
    script: str,
    headers: dict[str, str],
    script_args: Sequence[str] = (),
    show_header_values: bool = True,
) -> list[str]:
    argv = ["taskset", "-c", WRK_CPU, "wrk", "-t", str(load.threads), "-c", str(load.connections)]
    argv += ["-d", f"{seconds}s", "--timeout", f"{load.timeout}s", "-s", str(LUA_DIR / script)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value if show_header_values else '<redacted>'}"]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    return argv


def run(argv: list[str], app_pid: int, postmaster_pid: int, workdir: Path) -> Measurement:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LUA_PATH": f"{LUA_DIR}/?.lua;;"}
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    app_before, machine_before = cpu.process_ticks(app_pid), cpu.machine_ticks()
    postgres_before = cpu.family_ticks(postmaster_pid)
    started = time.monotonic()
    process = spawn(argv, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate()
    finally:
        stop(process, grace=2)
    wall = time.monotonic() - started
    app_after, machine_after = cpu.process_ticks(app_pid), cpu.machine_ticks()
    postgres_after = cpu.family_ticks(postmaster_pid)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stdout = out.decode(errors="replace")
    line = next((ln for ln in stdout.splitlines() if ln.startswith(_MARKER)), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed (status {process.returncode}):\n{stdout}\n{err.decode(errors='replace')}"
        )
    data = json.loads(line.removeprefix(_MARKER))
    wrk_seconds = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    return Measurement(
        requests=data["requests"],
        duration_us=data["duration_us"],
        bytes=data["bytes"],
        socket_errors=data["socket_errors"],
        statuses=data["statuses"],
        latency_us=data["latency_us"],
        app_cpu=(app_after - app_before) / cpu.CLOCK_TICKS / wall,
        wrk_cpu=wrk_seconds / wall,
        postgres_cpu=(postgres_after - postgres_before) / cpu.CLOCK_TICKS / wall,
        machine_cpu=cpu.busy_cores(machine_before, machine_after),
        app_peak_rss_mb=cpu.peak_rss_mb(app_pid),
    )
