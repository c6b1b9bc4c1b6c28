"""The staging of a bulk import stops its reader the moment it stops, however it stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from application.ports import StagedStudent
from domain.errors import EmailAlreadyRegistered
from infrastructure.sqlalchemy import importing
from tests.support.builders import a_student


class _Refusing:
    """A session whose store of the first batch hits the unique index (another writer's email)."""

    dialect_name = "sqlite"

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if statement is importing._STORE_BATCH:
            raise IntegrityError("INSERT INTO students ...", None, Exception("UNIQUE constraint failed"))
        return None

    async def copy_records(
        self, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
    ) -> None:
        raise AssertionError("not PostgreSQL")


async def _batches(count: int) -> AsyncIterator[list[StagedStudent]]:
    for number in range(count):
        yield [StagedStudent(number + 2, a_student(email=f"s{number}@example.org"))]


async def test_a_store_that_fails_leaves_no_reader_task_behind() -> None:
    staged = importing.SqlAlchemyStudentImport(_Refusing(), [])
    with pytest.raises(EmailAlreadyRegistered):
        await staged.stage(_batches(50))  # the reader has filled its queue by then
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert others == []
