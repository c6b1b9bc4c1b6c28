"""An SQLite file deleted or replaced under a running service: its writes go where a new process
looks, never into a file nobody will open again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from infrastructure.settings import Settings
from infrastructure.sqlalchemy.engine import create_engine


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
