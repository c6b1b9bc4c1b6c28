"""The installed `students` command, as a user runs it: data survives a restart of the process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.auth import SECRET, bearer

STUDENTS = shutil.which("students") or str(Path(sys.executable).with_name("students"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(**variables: str) -> dict[str, str]:
    """The environment of a `students` process: the tests' own secret, never a .dev-secret file."""
    return {**os.environ, "AUTH_SECRET": SECRET, "ENVIRONMENT": "test", **variables}


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [STUDENTS, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, err = process.communicate(timeout=5)
                pytest.fail(f"server did not become ready: {err.decode()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_student_survives_a_restart(tmp_path: Path) -> None:
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'students.db'}")
    migrate = subprocess.run([STUDENTS, "migrate"], env=env, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr
    port = _free_port()

    with serving(env, port) as base:
        created = httpx.post(
            f"{base}/students",
            json={"name": "Ada", "email": "ada@example.org", "department": "CS", "cgpa": 9},
            headers=bearer(),
        )
        assert created.status_code == 201

    with serving(env, port):
        fetched = httpx.get(created.headers["location"], headers=bearer())
        assert fetched.status_code == 200
        assert fetched.json() == created.json()


def test_bad_setting_stops_with_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "sqlite:///no-async-driver.db", "DB_POOL_SIZE": "zero"}
    result = subprocess.run([STUDENTS, "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DATABASE_URL" in lines[0]
    assert "DB_POOL_SIZE" in lines[0]
    assert "Traceback" not in result.stderr
