"""The installed `students` command, as a user runs it: data survives a restart of the process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.auth import bearer
from tests.support.server import STUDENTS, free_port, server_environment, serving


@pytest.mark.slow
def test_student_survives_a_restart(tmp_path: Path) -> None:
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'students.db'}")
    migrate = subprocess.run([STUDENTS, "migrate"], env=env, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()

    with serving(env, port) as base:
        created = httpx.post(
            f"{base}/students",
            json={"name": "Ada", "email": "ada@example.org", "department": "CS", "cgpa": 9},
            headers=bearer(),
        )
        assert created.status_code == 201

    with serving(env, port) as base:
        fetched = httpx.get(base + created.headers["location"], headers=bearer())
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


def test_a_driver_that_is_not_installed_is_one_clear_line() -> None:
    env = server_environment(DATABASE_URL="mysql+aiomysql://root@127.0.0.1/students")
    result = subprocess.run([STUDENTS, "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "students: invalid settings: DATABASE_URL: names the driver aiomysql, which is not installed "
        "(pip install aiomysql)"
    ]


def test_an_unreachable_database_stops_migrate_with_one_line_and_no_password() -> None:
    env = server_environment(DATABASE_URL=f"postgresql+asyncpg://app:s3cret@127.0.0.1:{free_port()}/students")
    result = subprocess.run([STUDENTS, "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("students: cannot migrate postgresql+asyncpg://app:***@127.0.0.1:")
