"""The `students` command's side of security: minting tokens, the development secret, production."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.auth import SECRET
from tests.support.server import STUDENTS, free_port, server_environment, students


def test_token_prints_only_a_token_with_the_scopes_asked_for() -> None:
    result = students(
        "token",
        "students:read",
        "students:write",
        "--subject",
        "alice",
        "--ttl",
        "90",
        env=server_environment(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["scope"] == "students:read students:write"
    assert claims["exp"] - claims["iat"] == 90


@pytest.mark.parametrize(
    "args",
    [
        ("token", "students:everything"),
        ("token",),
        ("token", "students:read", "--ttl", "0"),
        ("token", "students:read", "--ttl", "99999999999999"),  # was an OverflowError traceback
        ("token", "students:read", "--subject", ""),  # minted a token the server refused
        ("token", "students:read", "--subject", "x" * 256),
    ],
)
def test_token_refuses_bad_arguments_with_nothing_on_stdout(args: tuple[str, ...]) -> None:
    result = students(*args, env=server_environment())
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def _without_keys() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "DEV_SECRET"))}
    return env | {"ENVIRONMENT": "development"}


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    result = students("serve", env=_without_keys() | {"ENVIRONMENT": "production"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "students: invalid settings: AUTH_SECRET is required in production (at least 32 random bytes)"
    ]
    assert not (tmp_path / ".dev-secret").exists()


@pytest.mark.slow
def test_a_newcomer_gets_a_private_secret_and_a_working_token(tmp_path: Path) -> None:
    env = _without_keys() | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'students.db'}"}
    assert students("migrate", env=env, cwd=tmp_path).returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [STUDENTS, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        # On standard output: standard error is the log stream, where no token may appear.
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(6))
        found = re.search(r"export TOKEN=(\S+)", banner)
        assert found, banner
        assert f'curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:{port}/students' in banner
        secret = tmp_path / ".dev-secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"{base}/students", headers={"authorization": f"Bearer {found[1]}"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert httpx.get(f"{base}/students").status_code == 401
        minted = students("token", "students:read", env=env, cwd=tmp_path).stdout.strip()
        assert httpx.get(f"{base}/students", headers={"authorization": f"Bearer {minted}"}).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def test_a_port_in_use_gets_no_token_printed(tmp_path: Path) -> None:
    # Found by a new user: `make run` with port 8000 taken printed a token and a curl line for
    # that port, which another program holds, before it said the port was in use.
    env = _without_keys() | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'students.db'}"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = students("serve", "--port", str(port), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"students: cannot listen on 127.0.0.1:{port}: Address already in use; another program has "
        "the port: choose another with --port (make run: PORT=8001)"
    )
