"""PostgreSQL's statements on asyncpg's own connection (infrastructure/sqlalchemy/driver.py).

The contract suite proves the behaviour on every backend; these pin down that PostgreSQL really
takes the driver path for the statements the stores run on every request, and falls back to
SQLAlchemy for the ones it cannot run as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from application.idempotency import IdempotencyRecord
from application.listing import StudentQuery
from infrastructure.sqlalchemy import repository
from infrastructure.sqlalchemy.database import Database
from infrastructure.sqlalchemy.session import Session
from infrastructure.sqlalchemy.tables import students
from infrastructure.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from tests.support.builders import a_student
from tests.support.databases import clear_tables


@pytest.fixture
async def database(postgres_engine: AsyncEngine) -> Database:
    await clear_tables(postgres_engine)
    return Database(postgres_engine)


async def test_the_stores_statements_run_on_the_driver(database: Database) -> None:
    student = a_student()
    async with SqlAlchemyUnitOfWork(database) as uow:
        await uow.students.add(student)
        loaded = await uow.students.get(student.id, lock=True)
        assert loaded is not None
        loaded.revise(name="Ada Byron", now=loaded.updated_at)
        await uow.students.update(loaded, expected_version=1)
        await uow.students.find_page(StudentQuery(limit=10))
        now = datetime(2026, 1, 1, tzinfo=UTC)
        await uow.idempotency.claim(IdempotencyRecord("c", "k", "f" * 64, now, now + timedelta(hours=1)))
        await uow.commit()
    driver = database.driver
    assert driver is not None
    for statement in (repository._INSERT, repository._BY_ID_LOCKED, repository._UPDATE):
        assert driver.plan(statement, None) is not None, statement
    async with SqlAlchemyUnitOfWork(database, read_only=True) as uow:
        assert (await uow.students.get(student.id)) == loaded


async def test_a_statement_with_values_built_in_runs_through_sqlalchemy(database: Database) -> None:
    driver = database.driver
    assert driver is not None
    built_in = sa.select(students.c.id).where(students.c.name == "Ada")  # a literal, bound by SQLAlchemy
    assert driver.plan(built_in, {}) is None
    session = Session(database, read_only=True)
    await session.open()
    try:
        assert (await session.execute(built_in)).all() == []
    finally:
        await session.close()


async def test_driver_errors_are_sqlalchemys(database: Database) -> None:
    student = a_student()
    session = Session(database)
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
        await session.rollback()
        await session.close()


def test_the_driver_path_can_be_turned_off(postgres_engine: AsyncEngine) -> None:
    assert Database(postgres_engine).driver is not None
    assert Database(postgres_engine, driver_statements=False).driver is None


async def test_a_read_on_the_driver_sends_no_begin_and_no_rollback(database: Database) -> None:
    # Found by profiling: reads on the driver opened a transaction of their own (BEGIN, ROLLBACK).
    student = a_student()
    async with SqlAlchemyUnitOfWork(database) as uow:
        await uow.students.add(student)
        await uow.commit()
    async with SqlAlchemyUnitOfWork(database, read_only=True) as uow:
        assert await uow.students.get(student.id) is not None
        store = uow.students
        assert isinstance(store, repository.SqlAlchemyStudentRepository)
        adapter = store._session._adapter
        assert adapter._transaction is None
        assert not adapter._connection.is_in_transaction()
