"""Running the installed `students` command as a user would, for tests that need a real process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.support.auth import SECRET

STUDENTS = shutil.which("students") or str(Path(sys.executable).with_name("students"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(**variables: str) -> dict[str, str]:
    """The environment of a `students` process: the tests' own secret, never a .dev-secret file,
    and no drain on stopping (tests that are about the drain set SHUTDOWN_DRAIN themselves)."""
    return {
        **os.environ,
        "AUTH_SECRET": SECRET,
        "ENVIRONMENT": "test",
        "SHUTDOWN_DRAIN": "0",
        "RATE_LIMIT_ENABLED": "false",
        **variables,
    }


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    base: str
    log: IO[bytes]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextmanager
def running_server(
    env: dict[str, str],
    port: int | None = None,
    *,
    workers: int = 1,
    log: Path | None = None,
    ready: str = "/readyz",
) -> Iterator[RunningServer]:
    """`students serve`, ready (``ready`` answers 200: /healthz for a server whose database is
    not), until the block ends (SIGTERM, then a kill if it lingers). Its standard error goes to
    ``log`` (a file, never a pipe nobody reads, which would fill up and stall the server)."""
    port = port or free_port()
    with open(log, "w+b") if log else tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [STUDENTS, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(process, f"{base}{ready}", stderr)
            yield RunningServer(process, base, stderr)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def serving(
    env: dict[str, str], port: int | None = None, *, workers: int = 1, log: Path | None = None
) -> Iterator[str]:
    """The base URL of a `students serve` that runs until the block ends."""
    with running_server(env, port, workers=workers, log=log) as server:
        yield server.base


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, stderr: object) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            stderr.seek(0)  # type: ignore[attr-defined]
            output = stderr.read().decode(errors="replace")  # type: ignore[attr-defined]
            pytest.fail(f"server did not become ready: {output[-2000:]}")
        time.sleep(0.1)


def students(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STUDENTS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
