"""An SQLite file deleted or replaced under a running service: its writes go where a new process
looks, never into a file nobody will open again. One that takes no writes says so: 503."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from infrastructure.settings import Settings
from infrastructure.sqlalchemy.engine import create_engine
from tests.support.api import ADA, assert_problem
from tests.support.auth import bearer
from tests.support.server import running_server, server_environment, students


async def _marked(path: Path, mark: str) -> None:
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    async with engine.begin() as connection:
        await connection.execute(sa.text("CREATE TABLE mark (text TEXT)"))
        await connection.execute(sa.text("INSERT INTO mark VALUES (:mark)"), {"mark": mark})
    await engine.dispose()


def _remove(path: Path) -> None:
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        name.unlink(missing_ok=True)


async def test_a_deleted_file_takes_no_more_writes(tmp_path: Path) -> None:
    # Found by attack: both processes kept answering 201 into the unlinked file, /readyz 200.
    path = tmp_path / "students.db"
    await _marked(path, "first")
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    async with engine.connect() as connection:
        assert (await connection.execute(sa.text("SELECT text FROM mark"))).scalar() == "first"
    _remove(path)
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.begin() as connection:
            await connection.execute(sa.text("INSERT INTO mark VALUES ('lost')"))
    await engine.dispose()


async def test_a_restored_file_is_the_one_read_and_written(tmp_path: Path) -> None:
    path, backup = tmp_path / "students.db", tmp_path / "backup.db"
    await _marked(path, "before")
    await _marked(backup, "restored")
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    async with engine.connect() as connection:
        assert (await connection.execute(sa.text("SELECT text FROM mark"))).scalar() == "before"
    _remove(path)
    shutil.copyfile(backup, path)
    async with engine.begin() as connection:
        await connection.execute(sa.text("INSERT INTO mark VALUES ('after')"))
    await engine.dispose()
    reader = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    async with reader.connect() as connection:
        marks = (await connection.execute(sa.text("SELECT text FROM mark ORDER BY text"))).scalars().all()
    await reader.dispose()
    assert marks == ["after", "restored"]


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` made unwritable as an operator would: immutable for root (who writes whatever
    the mode says), read-only by its mode for anyone else."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)


def _refuses_writes_and_serves_reads(base: str) -> None:
    registering = httpx.post(f"{base}/students", json=ADA, headers=bearer("students:write"), timeout=10)
    problem = assert_problem(registering, 503)
    assert "accepts no changes" in problem["detail"]
    assert "retry-after" in registering.headers
    readiness = httpx.get(f"{base}/readyz", timeout=10)
    assert readiness.status_code == 503
    assert readiness.json()["type"] == "/problems/database-read-only"
    assert httpx.get(f"{base}/students", headers=bearer(), timeout=10).status_code == 200


def test_a_file_that_takes_no_writes_refuses_them_with_503(tmp_path: Path) -> None:
    # Found by attack: an immutable file (chattr +i) answered every write 500, "attempt to write a
    # readonly database", while /readyz said 200.
    path = tmp_path / "students.db"
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{path}")
    assert students("migrate", env=env).returncode == 0
    with _read_only(path), running_server(env, log=tmp_path / "server.log", ready="/healthz") as server:
        _refuses_writes_and_serves_reads(server.base)
        assert "Traceback" not in server.output()


def test_a_file_opened_read_only_refuses_writes_with_503(tmp_path: Path) -> None:
    # A read-only copy served as such: SQLite's own URI, mode=ro.
    path = tmp_path / "students.db"
    assert (
        students("migrate", env=server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{path}")).returncode
        == 0
    )
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    with running_server(env, log=tmp_path / "server.log", ready="/healthz") as server:
        _refuses_writes_and_serves_reads(server.base)
        assert "Traceback" not in server.output()
