"""PostgreSQL's driver path: SQLAlchemy's compiled statements on asyncpg's own connections.

The contract and reliability suites prove the behaviour on every backend; these pin down that
PostgreSQL really takes the driver path for every statement the stores run, that a statement it
cannot run is refused with a reason, and that the pool behind it replaces what it must.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from application.idempotency import IdempotencyRecord
from application.listing import StudentQuery
from infrastructure.sqlalchemy import idempotency, repository
from infrastructure.sqlalchemy.database import Database
from infrastructure.sqlalchemy.driver_session import DriverSession
from infrastructure.sqlalchemy.tables import students
from infrastructure.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from tests.support.builders import a_student
from tests.support.databases import clear_tables


@pytest.fixture
async def database(postgres_engine: AsyncEngine) -> AsyncIterator[Database]:
    await clear_tables(postgres_engine)
    database = Database(postgres_engine)
    yield database
    await database.dispose()


async def test_every_statement_of_the_stores_runs_on_the_driver(database: Database) -> None:
    student = a_student()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    claim = IdempotencyRecord("c", "k", "f" * 64, now, now + timedelta(hours=1))
    async with SqlAlchemyUnitOfWork(database) as uow:
        await uow.students.add(student)
        loaded = await uow.students.get(student.id, lock=True)
        assert loaded is not None
        loaded.revise(name="Ada Byron", now=loaded.updated_at)
        await uow.students.update(loaded, expected_version=1)
        await uow.students.find_page(StudentQuery(limit=10))
        await uow.idempotency.claim(claim)
        await uow.idempotency.complete("c", "k", created_at=now, student_id=student.id, snapshot="{}")
        await uow.idempotency.purge_expired(now)
        await uow.commit()
    driver = database.driver
    assert driver is not None
    for statement in (
        repository._INSERT,
        repository._BY_ID_LOCKED,
        repository._UPDATE,
        idempotency._COMPLETE,
    ):
        assert driver.plan(statement, None) is not None, statement
    async with SqlAlchemyUnitOfWork(database, read_only=True) as uow:
        assert (await uow.students.get(student.id)) == loaded


async def test_a_statement_with_a_value_built_in_is_refused_with_the_reason(database: Database) -> None:
    built_in = sa.select(students.c.id).where(students.c.name == "Ada")  # a literal, not a bindparam
    session = DriverSession(database, read_only=True)
    await session.open()
    try:
        with pytest.raises(RuntimeError, match="bind every value by name"):
            await session.execute(built_in)
    finally:
        await session.close()


async def test_driver_errors_are_sqlalchemys(database: Database) -> None:
    student = a_student()
    session = DriverSession(database)
    await session.open()
    try:
        values = {"id": student.id, **repository._row_values(student)}
        await session.execute(repository._INSERT, values)
        with pytest.raises(IntegrityError) as taken:
            await session.execute(repository._INSERT, {**values, "id": a_student().id})
        assert "email" in str(taken.value.orig)
        assert isinstance(taken.value, DBAPIError)
        assert not taken.value.connection_invalidated
    finally:
        await session.close()


async def test_a_read_sends_no_begin_and_no_rollback(database: Database) -> None:
    # Found by profiling: reads on the driver opened a transaction of their own (BEGIN, ROLLBACK).
    student = a_student()
    async with SqlAlchemyUnitOfWork(database) as uow:
        await uow.students.add(student)
        await uow.commit()
    session = DriverSession(database, read_only=True)
    await session.open()
    try:
        await session.execute(repository._BY_ID, {"id": student.id})
        assert not session._open_connection().is_in_transaction()
    finally:
        await session.close()


async def test_the_pool_keeps_what_it_lends_and_replaces_what_died(database: Database) -> None:
    pool = database.pool
    assert pool is not None
    first = await pool.acquire()
    pool.release(first)
    assert (pool.idle, pool.in_use) == (1, 0)
    again = await pool.acquire()
    assert again is first  # kept and handed out again
    again.terminate()  # as if the server had closed it
    pool.release(again)
    replaced = await pool.acquire()
    assert replaced is not first
    assert not replaced.is_closed()
    pool.release(replaced, broken=True)  # a broken one is closed, not kept
    assert pool.idle == 0


async def test_the_pool_replaces_a_connection_older_than_recycle(postgres_engine: AsyncEngine) -> None:
    database = Database(postgres_engine, pool_recycle=0.01)
    pool = database.pool
    assert pool is not None
    try:
        first = await pool.acquire()
        pool.release(first)
        await asyncio.sleep(0.05)
        second = await pool.acquire()
        assert second is not first
        pool.release(second)
    finally:
        await database.dispose()


def test_the_driver_path_can_be_turned_off(postgres_engine: AsyncEngine) -> None:
    assert Database(postgres_engine).driver is not None
    off = Database(postgres_engine, driver_statements=False)
    assert off.driver is None
    assert off.pool is None
