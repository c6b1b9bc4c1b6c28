"""Instructions per HTTP request, for the service and both comparison apps, counted by callgrind.

``python -m bench.http_instructions`` (part of ``make bench-instructions``) serves each app from
one uvicorn process under ``valgrind --tool=callgrind`` on the suite's PostgreSQL database
(prepared as ``make bench`` prepares it), sends ``WARM_UP`` requests of a scenario over one
keep-alive connection, zeroes the counters (``callgrind_control --zero``), sends ``REQUESTS`` more,
and dumps them: what the server process spent on those requests alone, uvicorn's HTTP parsing and
socket work included, PostgreSQL's own work (another process) excluded. Instruction counts are the
same from run to run whatever else the machine does, so a change can be judged on a noisy machine.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import database, servers
from bench.config import POST_EMAIL_DOMAIN, App, apps, child_env
from bench.metadata import git_state, write_report
from bench.processes import spawn, stop

WARM_UP = int(os.environ.get("BENCH_INSTRUCTIONS_WARM_UP", "200"))
REQUESTS = int(os.environ.get("BENCH_INSTRUCTIONS_REQUESTS", "300"))
READY_WITHIN = 180.0  # seconds: everything is some 50 times slower under callgrind
_serial = itertools.count()


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    status: int = 200
    if_match: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    request: Callable[[int], Request]  # the i-th request of the scenario
    apps: tuple[str, ...] = ("service", "flat", "raw")


def _scenarios(data: database.Dataset) -> tuple[Scenario, ...]:
    ids = data.point_ids

    def point_read(i: int) -> Request:
        return Request("GET", f"/students/{ids[i % len(ids)]}")

    def register(i: int) -> Request:
        n = next(_serial)
        body = {"name": "Bench Post", "email": f"i{os.getpid()}-{n}@{POST_EMAIL_DOMAIN}",
                "department": "CS", "cgpa": 7.5}  # fmt: skip
        return Request("POST", "/students", json.dumps(body).encode(), status=201)

    def update(i: int) -> Request:
        body = b'{"cgpa":%d.%02d}' % (5 + i % 5, i % 100)  # two decimals, as a CGPA has
        return Request("PATCH", f"/students/{ids[i % len(ids)]}", body, if_match="*")

    return (
        Scenario("GET /students/{id}", point_read),
        Scenario("GET /students?limit=50", lambda i: Request("GET", "/students?limit=50")),
        Scenario("PATCH /students/{id} (If-Match: *)", update, apps=("service", "flat")),
        Scenario("POST /students", register, apps=("service", "flat")),
    )


def _valgrind_argv(app: App, out: Path) -> list[str]:
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m", "uvicorn"]
    argv.append(app.target)
    if app.factory:
        argv.append("--factory")
    argv += ["--host", "127.0.0.1", "--port", str(app.port), "--workers", "1", "--no-access-log"]
    return [*argv, "--log-level", "warning", "--no-server-header", "--no-proxy-headers"]


def _send(connection: http.client.HTTPConnection, app: App, request: Request) -> None:
    headers = {**app.headers, "Host": f"127.0.0.1:{app.port}"}
    if request.body is not None:
        headers["Content-Type"] = "application/json"
    if request.if_match is not None:
        headers["If-Match"] = request.if_match
    connection.request(request.method, request.path, body=request.body, headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != request.status:
        raise SystemExit(f"bench: {app.name} answered {request.method} {request.path} {response.status}")


def _wait_until_ready(app: App, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: {app.name} exited with status {process.returncode} under valgrind")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
            _send(connection, app, Request("GET", "/students?limit=1"))
            connection.close()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"bench: {app.name} not ready under valgrind after {READY_WITHIN:.0f} s")


def _total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"bench: no total in {dump}")


def _count(app: App, scenario: Scenario, workdir: Path) -> int:
    """Instructions the app's process spent on REQUESTS requests of the scenario, warm."""
    if servers.port_in_use(app.port):
        raise SystemExit(f"bench: port {app.port} is in use (another bench running?); {app.name} needs it")
    out = workdir / f"{app.name}.callgrind"
    log = (workdir / f"{app.name}.log").open("wb")
    # A fixed hash seed: dict and set layouts, and so the counts, the same from run to run.
    env = child_env({**app.env, "PYTHONHASHSEED": "0"})
    process = spawn(_valgrind_argv(app, out), env=env, cwd=workdir, stdout=log, stderr=log)
    try:
        _wait_until_ready(app, process)
        connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=60)
        for i in range(WARM_UP):
            _send(connection, app, scenario.request(i))
        subprocess.run(["callgrind_control", "--zero", str(process.pid)], check=True, capture_output=True)
        for i in range(REQUESTS):
            _send(connection, app, scenario.request(WARM_UP + i))
        before = set(workdir.glob(f"{out.name}*"))
        subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, capture_output=True)
        dumps = sorted(set(workdir.glob(f"{out.name}*")) - before)
        connection.close()
        if not dumps:
            raise SystemExit(f"bench: callgrind wrote no dump for {app.name}")
        return _total(dumps[-1]) // REQUESTS
    finally:
        stop(process, grace=60.0)
        log.close()


def main() -> int:
    data = asyncio.run(database.prepare())
    commit, dirty = git_state()
    by_name = {app.name: app for app in apps()}
    lines = [
        "# Instructions per HTTP request (callgrind, through uvicorn)",
        "",
        f"`python -m bench.http_instructions` at {commit[:7]}{' (uncommitted changes)' if dirty else ''}: "
        f"one uvicorn worker per app under callgrind, on the {data.rows:,}-row PostgreSQL database; "
        f"{REQUESTS} requests counted after {WARM_UP} to warm up, over one keep-alive connection.",
        "",
        "| scenario | service | flat | raw | service / flat | service / raw |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    try:
        for scenario in _scenarios(data):
            counts: dict[str, int] = {}
            for name in scenario.apps:
                with tempfile.TemporaryDirectory() as directory:
                    counts[name] = _count(by_name[name], scenario, Path(directory))
                print(f"{scenario.name}: {name} {counts[name]:,}", flush=True)
            # Fewer instructions is faster: the ratios are of requests per instruction, as the
            # ratios of requests/s in `make bench` are.
            flat = f"{counts['flat'] / counts['service']:.2f}x" if "flat" in counts else ""
            raw = f"{counts['raw'] / counts['service']:.2f}x" if "raw" in counts else ""
            cells = [f"{counts[name]:,}" if name in counts else "" for name in ("service", "flat", "raw")]
            lines.append(f"| `{scenario.name}` | {' | '.join(cells)} | {flat} | {raw} |")
    finally:
        asyncio.run(database.delete_posted())
    lines += [
        "",
        "Ratios are requests per instruction of the service over the other app's (higher is better).",
    ]
    write_report(lines, "http-instructions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
