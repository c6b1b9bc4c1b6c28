"""Each app under test in its own uvicorn process, pinned to APP_CPU, stopped whatever happens."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.config import APP_CPU, App, child_env
from bench.processes import spawn, stop

STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Server:
    app: App
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def uvicorn_argv(app: App) -> list[str]:
    """The same uvicorn settings for every app: one worker, no access log, warnings only."""
    argv = ["taskset", "-c", APP_CPU, sys.executable, "-m", "uvicorn", app.target]
    if app.factory:
        argv.append("--factory")
    argv += ["--host", "127.0.0.1", "--port", str(app.port), "--workers", "1"]
    # --no-server-header and --no-proxy-headers are what `students serve` sets; all three get them.
    argv += ["--no-access-log", "--log-level", "warning", "--no-server-header", "--no-proxy-headers"]
    return argv


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_until_ready(server: Server) -> None:
    """Poll ``GET /students?limit=1`` (with the app's headers) until it answers 200."""
    request = urllib.request.Request(f"{server.app.base_url}/students?limit=1", headers=server.app.headers)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(
                f"bench: {server.app.name} exited with status {server.process.returncode}:\n"
                f"{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
                last_error = f"status {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"status {exc.code}: {exc.read(300)!r}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise SystemExit(f"bench: {server.app.name} not ready after {STARTUP_TIMEOUT:.0f} s ({last_error})")


@contextmanager
def running(apps: tuple[App, ...], workdir: Path) -> Iterator[dict[str, Server]]:
    """Start every app, wait until each answers, and stop all of them on the way out."""
    busy = [f"{app.name} ({app.port})" for app in apps if port_in_use(app.port)]
    if busy:
        raise SystemExit(f"bench: port already in use, stop whatever listens there: {', '.join(busy)}")
    servers: dict[str, Server] = {}
    with contextlib.ExitStack() as stack:
        for app in apps:
            log = workdir / f"{app.name}.log"
            log_file = stack.enter_context(log.open("wb"))
            process = spawn(
                uvicorn_argv(app),
                env=child_env(app.env),
                cwd=workdir,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            stack.callback(stop, process)
            servers[app.name] = Server(app, process, log)
        for server in servers.values():
            _wait_until_ready(server)
        yield servers
