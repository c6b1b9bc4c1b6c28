"""The `students` command at its edges: every failure is one line and a status, never a traceback."""

from __future__ import annotations

import os
import socket
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
        (("serve", "--port", "74644"), "argument --port: must be 1 to 65535, not 74644"),
        (("serve", "--port", "0"), "argument --port: must be 1 to 65535, not 0"),
        (("serve", "--port", "http"), "argument --port: 'http' is not a whole number"),
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
    (tmp_path / "empty.db").touch()  # there, but never migrated
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    result = students("purge-idempotency-keys", env=env)
    assert result.returncode == 1
    assert "the database has no schema yet; run `students migrate`" in assert_one_line(result.stderr)


@pytest.mark.parametrize(
    "command",
    [("purge-idempotency-keys",), ("export",), ("import", "in.csv"), ("import", "--dry-run", "in.csv")],
)
def test_a_command_on_an_sqlite_file_that_is_not_there_leaves_none_behind(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # Found by a new user: run outside the project, `students export` said to migrate, and left an
    # empty students.db in the directory it ran in (SQLite makes the file it is asked to open).
    missing = tmp_path / "students.db"
    env = server_environment(DATABASE_URL="sqlite+aiosqlite:///students.db")
    (tmp_path / "in.csv").write_text("name,email,department,cgpa\nAda Lovelace,ada@example.edu,CS,9.5\n")
    result = students(*command, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert assert_one_line(result.stderr) == (
        f"students: cannot {_ACTIONS[command[0]]} sqlite+aiosqlite:///students.db: there is no database "
        f"file {missing}; run `students migrate` first (the default is ./students.db, in the directory "
        "the command runs in)"
    )
    assert not missing.exists()
    assert students("migrate", env=env, cwd=tmp_path).returncode == 0  # which may make it
    assert missing.exists()


_ACTIONS = {
    "purge-idempotency-keys": "purge the idempotency keys of",
    "export": "export from",
    "import": "import into",
}


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    # Was six log lines and exit status 3.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
        for workers in ("1", "2"):
            result = students("serve", "--port", str(port), "--workers", workers, env=env)
            assert result.returncode == 1
            line = assert_one_line(result.stderr)
            assert line.startswith(f"students: cannot listen on 127.0.0.1:{port}: ")


def test_a_host_that_does_not_resolve_is_one_line(tmp_path: Path) -> None:
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    result = students("serve", "--host", "no.such.host.invalid", env=env)
    assert result.returncode == 1
    assert assert_one_line(result.stderr).startswith("students: cannot listen on no.such.host.invalid:8000: ")


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DATABASE_URL", "postgresql+asyncpg://app@127.0.0.1:99999/students", "DATABASE_URL"),
        ("PUBLIC_BASE_URL", "http://students.example.org:abc/a", "PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "http://students.example.org/a b", "PUBLIC_BASE_URL"),
    ],
)
def test_settings_that_cannot_work_stop_the_start(variable: str, value: str, named: str) -> None:
    # Were accepted: an OverflowError later, or links with a space and a port "abc" in them.
    result = students("migrate", env=server_environment(**{variable: value}))
    assert result.returncode == 2
    assert named in assert_one_line(result.stderr)


def test_an_hmac_secret_shorter_than_its_hash_is_refused() -> None:
    # HS512 with a 40-byte secret started, and PyJWT then warned on every new token, raw, on stderr.
    env = server_environment(
        AUTH_ALGORITHMS="HS512", AUTH_SECRET="s" * 4 + "0123456789abcdefghijklmnopqrstuvwxyz"
    )
    result = students("token", "students:read", env=env)
    assert result.returncode == 2
    assert "AUTH_SECRET must be at least 64 bytes for HS512" in assert_one_line(result.stderr)


@pytest.mark.parametrize("port", [" 80", "1_000", "8\u0660"])
def test_a_port_is_written_in_digits(port: str) -> None:
    result = students("serve", "--port", port, env=server_environment())
    assert result.returncode == 2
    assert "is not a whole number" in assert_one_line(result.stderr)


def test_migrate_of_a_database_from_a_newer_release_is_one_line(tmp_path: Path) -> None:
    import sqlite3

    database = tmp_path / "s.db"
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert students("migrate", env=env).returncode == 0
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    result = students("migrate", env=env)
    assert result.returncode == 1
    assert "was it migrated by a newer release?" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("database", "problem"),
    [
        ("dir.db", "{tmp}/dir.db is a directory, not a database file"),
        ("nope/x.db", "there is no directory {tmp}/nope for the database file"),
        ("file:uri.db?uri=true", "there is no database file {tmp}/uri.db; run `students migrate` first"),
    ],
)
def test_an_sqlite_file_that_cannot_be_one_is_one_line_before_sqlite_opens_it(
    tmp_path: Path, database: str, problem: str
) -> None:
    # Found by attack: a directory as the file printed aiosqlite's thread traceback ("Event loop
    # is closed") after the line, and said to retry; a missing directory said to migrate, which
    # failed too; an SQLite URI filename left an empty database behind.
    (tmp_path / "dir.db").mkdir()
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    result = students("export", env=env, cwd=tmp_path)
    assert result.returncode == 1
    line = assert_one_line(result.stderr)
    assert problem.format(tmp=tmp_path) in line
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.db"]
