"""One scenario against one app: warm up, measure, and measure again if others disturbed it."""

from __future__ import annotations

import dataclasses
import secrets
import shlex
import sys
import time
from pathlib import Path

from bench import cpu, servers, wrk
from bench.config import NOISE_CORES, POST_EMAIL_DOMAIN, Load
from bench.pgstats import SessionCounter
from bench.report import Run
from bench.scenarios import Scenario, Script, Target

PAUSE = 1.0  # seconds between runs, so one run's closing connections do not overlap the next
_QUIET_SAMPLE = 2.0


def _script_args(script: Script, ids_file: Path) -> list[str]:
    if script in (Script.POINT_READS, Script.PATCH):
        return [str(ids_file)]
    if script is Script.REGISTER:
        # A new token for every wrk invocation, so that no email is ever sent twice.
        return [f"{int(time.time())}{secrets.token_hex(3)}", POST_EMAIL_DOMAIN]
    return []


def wait_for_quiet(limit: int) -> float:
    """Wait up to ``limit`` seconds until the idle machine does less than NOISE_CORES of work."""
    deadline = time.monotonic() + limit
    busy = cpu.background_busy(_QUIET_SAMPLE)
    while busy > NOISE_CORES and time.monotonic() < deadline:
        busy = cpu.background_busy(_QUIET_SAMPLE)
    return busy


def _once(
    scenario: Scenario,
    url: str,
    server: servers.Server,
    load: Load,
    workdir: Path,
    ids_file: Path,
    counter: SessionCounter,
) -> Run:
    results: list[wrk.Measurement] = []
    command = ""
    sessions = 0
    for seconds in (load.warmup, load.duration):
        args = _script_args(scenario.script, ids_file)

        def argv(seconds: int = seconds, args: list[str] = args, *, shown: bool = True) -> list[str]:
            return wrk.wrk_argv(
                url,
                load,
                seconds,
                script=scenario.script.value,
                headers=server.app.headers,
                script_args=args,
                show_header_values=shown,
            )

        command = shlex.join(argv(shown=False))
        sessions = counter.sessions()
        results.append(wrk.run(argv(), server.pid, counter.postmaster_pid(), workdir))
        time.sleep(PAUSE)  # also lets PostgreSQL publish the session count (it does so each second)
        sessions = counter.sessions() - sessions
    warmup, result = results
    return Run(
        scenario.key, scenario.title, server.app.name, url, command, warmup, result, new_db_sessions=sessions
    )


def measure(
    scenario: Scenario,
    target: Target,
    server: servers.Server,
    load: Load,
    workdir: Path,
    ids_file: Path,
    counter: SessionCounter,
) -> Run:
    """The run, measured again (up to ``load.attempts`` times) while other processes disturb it.

    Only disturbance is retried, judged by the CPU others used, never by the figures themselves;
    the discarded attempts stay in the JSON. A run with errors is never retried: that is the app.
    """
    url = server.app.base_url + (target.path if scenario.script is Script.FIXED else "/students")
    discarded: list[wrk.Measurement] = []
    while True:
        wait_for_quiet(load.quiet_wait)
        run = _once(scenario, url, server, load, workdir, ids_file, counter)
        if run.flags or not run.disturbed or len(discarded) + 1 >= load.attempts:
            return dataclasses.replace(run, discarded=tuple(discarded))
        print(f"bench: {scenario.key} / {server.app.name}: {run.disturbed}; measuring again", file=sys.stderr)
        discarded.append(run.result)
