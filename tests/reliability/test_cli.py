"""The `students` command at its edges: every failure is one line and a status, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.server import free_port, server_environment, students


def assert_one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Listened on 9108 (74644 wrapped round) while logging 74644.
        (("serve", "--port", "74644"), "argument --port: must be 1 to 65535 port, not 74644"),
        (("serve", "--port", "0"), "argument --port: must be 1 to 65535 port, not 0"),
        (("serve", "--port", "http"), "argument --port: 'http' is not a whole number of port"),
        # Was accepted.
        (("serve", "--workers", "0"), "argument --workers: must be 1 to 64 processes, not 0"),
        (
            ("token", "students:read", "--ttl", "soon"),
            "argument --ttl: 'soon' is not a whole number of seconds",
        ),
    ],
)
def test_options_out_of_range_are_one_line(args: tuple[str, ...], message: str) -> None:
    result = students(*args, env=server_environment())
    assert result.returncode == 2
    line = assert_one_line(result.stderr)
    assert message in line
    assert line.endswith("--help)")


def test_token_elsewhere_refuses_rather_than_mint_with_a_new_secret(tmp_path: Path) -> None:
    # Made a fresh .dev-secret in whatever directory it ran in, and a token the server refused.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "DEV_SECRET"))}
    result = students("token", "students:read", env=env | {"ENVIRONMENT": "development"}, cwd=tmp_path)
    assert result.returncode == 2
    line = assert_one_line(result.stderr)
    assert f"there is no development secret at {tmp_path / '.dev-secret'}" in line
    assert result.stdout == ""
    assert not (tmp_path / ".dev-secret").exists()


def test_purge_against_an_unreachable_database_is_one_line() -> None:
    # Was a 125-line traceback.
    env = server_environment(DATABASE_URL=f"postgresql+asyncpg://app:s3cret@127.0.0.1:{free_port()}/students")
    result = students("purge-idempotency-keys", env=env)
    assert result.returncode == 1
    line = assert_one_line(result.stderr)
    assert line.startswith(
        "students: cannot purge the idempotency keys of postgresql+asyncpg://app:***@127.0.0.1:"
    )
    assert "s3cret" not in result.stderr


def test_purge_before_migrate_says_to_migrate(tmp_path: Path) -> None:
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    result = students("purge-idempotency-keys", env=env)
    assert result.returncode == 1
    assert "the database has no schema yet; run `students migrate`" in assert_one_line(result.stderr)
