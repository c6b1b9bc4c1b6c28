"""Migrations run clean from an empty database on every real backend."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.text import fold
from infrastructure.migrations import current_revision, head_revision, upgrade_to_head
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.engine import create_engine
from infrastructure.sqlalchemy.tables import metadata, students
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
    assert {"ix_students_name_id", "ix_students_cgpa_id", "ix_students_created_at_id",
            "ix_students_department_id"} <= indexes  # fmt: skip
    assert "ix_students_email_id" not in indexes  # 0006: the unique index serves sort=email
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


async def test_sqlite_migrates_from_empty(tmp_path: Path) -> None:
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


async def _upgrade_to(engine: AsyncEngine, revision: str) -> None:
    await _migrate(engine, "upgrade", revision)


async def _migrate(engine: AsyncEngine, direction: str, revision: str) -> None:
    from alembic import command

    from infrastructure.migrations import alembic_config

    def run(connection: sa.Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mariadb"])
async def test_0004_stores_names_in_one_unicode_spelling(backend: str, tmp_path: Path) -> None:
    decomposed, composed = "Jose\u0301 A\u0308", "Jos\u00e9 \u00c4"
    async with contextlib.AsyncExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        else:
            url = (await stack.enter_async_context(throw_away_database(backend))).url
        engine = create_engine(Settings(database_url=url))
        stack.push_async_callback(engine.dispose)
        await _upgrade_to(engine, "0003")
        row = {
            "id": uuid.UUID(int=1), "name": decomposed, "name_folded": decomposed.casefold(),
            "email": "jose@example.org", "department": "CS", "cgpa": Decimal("8.00"),
            "created_at": datetime(2026, 1, 1, tzinfo=UTC), "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
            "version": 1,
        }  # fmt: skip
        async with engine.begin() as connection:
            await connection.execute(sa.insert(students), row)
        await upgrade_to_head(engine)
        async with engine.connect() as connection:
            name, folded = (
                await connection.execute(sa.select(students.c.name, students.c.name_folded))
            ).one()
        assert (name, folded) == (composed, fold(composed))


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mariadb"])
async def test_0006_downgrade_gives_the_email_id_index_back(backend: str, tmp_path: Path) -> None:
    """Code from before 0006 orders by (email, id) and seeks that index on MariaDB: a downgrade
    that left it dropped would have every sort=email page sort the table."""
    async with contextlib.AsyncExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        else:
            url = (await stack.enter_async_context(throw_away_database(backend))).url
        engine = create_engine(Settings(database_url=url))
        stack.push_async_callback(engine.dispose)
        await upgrade_to_head(engine)
        await _migrate(engine, "downgrade", "0005")
        assert "ix_students_email_id" in (await _schema(engine))[1]
        await _migrate(engine, "upgrade", "0006")
        assert "ix_students_email_id" not in (await _schema(engine))[1]
