"""PostgreSQL's driver path under cancellation, echo and many statements (found by attack).

Each test has its own throw-away database. A request cancelled mid-BEGIN left asyncpg counting a
transaction on a pooled connection, so the next write ran inside a SAVEPOINT and was rolled back
after its 201; a cancelled pre-ping lost its connection; DB_ECHO showed nothing on this path; a
conditional DELETE was compiled on every call.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from domain.student import Student
from infrastructure.migrations import upgrade_to_head
from infrastructure.sqlalchemy.database import Database
from infrastructure.sqlalchemy.repository import _BY_ID
from infrastructure.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from tests.support.api import ADA
from tests.support.databases import ThrowAwayDatabase, throw_away_database
from tests.support.faulty_database import app_on, close_app


@pytest.fixture
async def postgres() -> AsyncIterator[ThrowAwayDatabase]:
    async with throw_away_database("postgres") as database:
        migrator = create_async_engine(database.url)
        await upgrade_to_head(migrator)
        await migrator.dispose()
        yield database


async def _emails(url: str) -> set[str]:
    direct = create_async_engine(url)
    try:
        async with direct.connect() as connection:
            return set((await connection.execute(sa.text("SELECT email FROM students"))).scalars())
    finally:
        await direct.dispose()


@pytest.mark.parametrize("driver_statements", [True, False], ids=["driver", "sqlalchemy"])
async def test_a_write_acknowledged_after_a_cancelled_begin_is_kept(
    postgres: ThrowAwayDatabase, driver_statements: bool
) -> None:
    engine = create_async_engine(postgres.url, pool_size=1, max_overflow=0)
    database = Database(engine, driver_statements=driver_statements)
    acknowledged: list[str] = []
    try:
        for i in range(10):
            uow = SqlAlchemyUnitOfWork(database)

            async def cancelled_write(uow: SqlAlchemyUnitOfWork = uow) -> None:
                async with uow:
                    await uow._session.execute(_BY_ID, {"id": uuid.uuid4()})  # type: ignore[union-attr]

            task = asyncio.ensure_future(cancelled_write())
            await asyncio.sleep(0)  # the BEGIN is sent, its answer awaited
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.05)
            email = f"kept{i}@example.org"
            student = Student.register(
                id=uuid.uuid4(), name="Kept", email=email, department="cs", cgpa=1, now=datetime.now(UTC)
            )
            async with SqlAlchemyUnitOfWork(database) as writer:
                await writer.students.add(student)
                await writer.commit()
            acknowledged.append(email)
        assert set(acknowledged) - await _emails(postgres.url) == set(), "acknowledged writes were lost"
    finally:
        await database.dispose()
        await engine.dispose()


async def test_a_pre_ping_cancelled_midway_does_not_lose_the_connection(postgres: ThrowAwayDatabase) -> None:
    engine = create_async_engine(postgres.url, pool_size=2)
    database = Database(engine, pre_ping=True)
    pool = database.pool
    assert pool is not None
    try:
        connection = await pool.acquire()
        pool.release(connection)
        task = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)
        assert pool.idle == 1 or connection.is_closed(), "held by nobody and still open"
    finally:
        await database.dispose()
        await engine.dispose()


@pytest.mark.parametrize("driver_statements", [True, False], ids=["driver", "sqlalchemy"])
async def test_db_echo_logs_the_statements(
    postgres: ThrowAwayDatabase, driver_statements: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    container, client = await app_on(
        "postgres", postgres, postgres.url, db_echo=True, db_driver_statements=driver_statements
    )
    try:
        created = await client.post("/students", json=ADA)
        assert created.status_code == 201
        assert (await client.get(f"/students/{created.json()['id']}")).status_code == 200
    finally:
        await close_app(container, client)
    statements = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.engine")]
    assert any("INSERT INTO students" in s for s in statements), statements
    assert any(s.startswith("SELECT students.id") for s in statements), statements
    assert not any("example.org" in s.lower() for s in statements)  # values never logged


async def test_a_conditional_delete_is_planned_once(postgres: ThrowAwayDatabase) -> None:
    container, client = await app_on("postgres", postgres, postgres.url)
    try:
        driver = container.database().driver
        assert driver is not None
        planned = None
        for i in range(20):
            created = await client.post("/students", json={**ADA, "email": f"d{i}@example.org"})
            removed = await client.delete(f"/students/{created.json()['id']}", headers={"if-match": '"1"'})
            assert removed.status_code == 204
            if i == 0:
                planned = len(driver._plans)
        assert len(driver._plans) == planned
    finally:
        await close_app(container, client)
