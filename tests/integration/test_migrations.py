"""Migrations run clean from an empty database on every real backend."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.migrations import current_revision, head_revision, upgrade_to_head
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.engine import create_engine
from infrastructure.sqlalchemy.tables import metadata
from tests.support.databases import throw_away_database


async def _schema(engine: AsyncEngine) -> tuple[set[str], set[str], set[str]]:
    def read(connection: sa.Connection) -> tuple[set[str], set[str], set[str]]:
        inspector = sa.inspect(connection)
        columns = {c["name"] for c in inspector.get_columns("students")}
        indexes = {i["name"] for i in inspector.get_indexes("students") if i["name"]}
        uniques = {u["name"] for u in inspector.get_unique_constraints("students") if u["name"]}
        return columns, indexes, uniques

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def _check_fresh_upgrade(engine: AsyncEngine) -> None:
    assert await current_revision(engine) is None
    await upgrade_to_head(engine)
    assert await current_revision(engine) == head_revision()
    columns, indexes, uniques = await _schema(engine)
    assert columns == {
        "id", "name", "name_folded", "email", "department", "cgpa", "created_at", "updated_at",
        "version",
    }  # fmt: skip
    assert {"ix_students_name_id", "ix_students_email_id", "ix_students_cgpa_id",
            "ix_students_created_at_id", "ix_students_department_id"} <= indexes  # fmt: skip
    # MariaDB reports a unique constraint as a unique index.
    assert "uq_students_email" in uniques | indexes
    assert await _drift(engine) == []
    await upgrade_to_head(engine)  # a second run is a no-op
    assert await current_revision(engine) == head_revision()


async def _drift(engine: AsyncEngine) -> list[Any]:
    """What `alembic check` would report: differences between the migrated schema and tables.py."""

    def compare(connection: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        return await connection.run_sync(compare)


async def test_sqlite_migrates_from_empty(tmp_path) -> None:
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"))
    try:
        await _check_fresh_upgrade(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgres", "mariadb"])
async def test_real_database_migrates_from_empty(backend: str) -> None:
    async with throw_away_database(backend) as database:
        engine = create_engine(Settings(database_url=database.url))
        try:
            await _check_fresh_upgrade(engine)
        finally:
            await engine.dispose()
