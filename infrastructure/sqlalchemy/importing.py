"""StudentImport on SQLAlchemy Core: rows staged in a temporary table, checked and stored by SQL.

The staging table (tables.py) is the connection's own and lives inside the unit of work's
transaction. PostgreSQL fills it with COPY, streaming the rows as the use-case checks them
(asyncpg's binary ``copy_records_to_table``); SQLite and MariaDB/MySQL with batched multi-row
INSERTs. From there everything is one statement per step, the same on every backend: the
repeated emails by a window over the staging key, the taken ones by a join on the unique email
index, the new students by one ``INSERT ... SELECT``, and the revisions by one UPDATE per row at
the version read (the rows are locked first, ``FOR UPDATE``).

PostgreSQL and SQLite undo the temporary table with the transaction; MariaDB/MySQL keep it for
the connection's life, so it is dropped explicitly (``DROP TEMPORARY TABLE``, which, unlike a
plain DROP TABLE there, does not commit) before each import and after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable, DropTable

from application.ports import EmailClash, StagedStudent, StudentImport
from domain.errors import EmailAlreadyRegistered
from domain.student import Student
from domain.text import fold
from infrastructure.sqlalchemy.session import Statements
from infrastructure.sqlalchemy.tables import UtcDateTime, columns_of, student_import_rows, students

_ROWS = student_import_rows
_STAGED_COLUMNS = tuple(column.name for column in _ROWS.columns)
_STUDENT_COLUMNS = columns_of(Student, students)
# Rows per INSERT where there is no COPY: MariaDB's default max_allowed_packet is 16 MiB, and a
# row here is at most some 900 bytes.
_INSERT_BATCH = 1000
_MYSQL = ("mysql", "mariadb")

_CREATE = CreateTable(_ROWS)
_DROP = DropTable(_ROWS, if_exists=True)
_DROP_MYSQL = sa.text(f"DROP TEMPORARY TABLE IF EXISTS {_ROWS.name}")
_INSERT_STAGED = sa.insert(_ROWS)

_limit = sa.bindparam("limit", type_=sa.Integer())
_first_line = sa.func.min(_ROWS.c.line).over(partition_by=_ROWS.c.email).label("first_line")
_with_first = sa.select(_ROWS.c.line, _ROWS.c.email, _first_line).subquery()
_REPEATED = sa.select(_with_first).where(_with_first.c.line != _with_first.c.first_line)
_REPEATED_PAGE = _REPEATED.order_by(_with_first.c.line).limit(_limit)
_REPEATED_COUNT = sa.select(sa.func.count()).select_from(_REPEATED.subquery())
_TAKEN = sa.select(_ROWS.c.line, _ROWS.c.email).join(students, students.c.email == _ROWS.c.email)
_TAKEN_PAGE = _TAKEN.order_by(_ROWS.c.line).limit(_limit)
_TAKEN_COUNT = sa.select(sa.func.count()).select_from(_TAKEN.subquery())

_not_stored = ~sa.exists().where(students.c.email == _ROWS.c.email)
_NEW_COUNT = sa.select(sa.func.count()).select_from(_ROWS).where(_not_stored)
_INSERT_NEW = sa.insert(students).from_select(
    ["id", "name", "name_folded", "email", "department", "cgpa", "created_at", "updated_at", "version"],
    sa.select(
        _ROWS.c.id,
        _ROWS.c.name,
        _ROWS.c.name_folded,
        _ROWS.c.email,
        _ROWS.c.department,
        _ROWS.c.cgpa,
        sa.bindparam("created_at", type_=UtcDateTime()),
        sa.bindparam("updated_at", type_=UtcDateTime()),
        sa.literal_column("1", sa.Integer()),
    )
    .where(_not_stored)
    # In line order, which is id order: the primary key's index grows at its end.
    .order_by(_ROWS.c.line),
)

_after_email = sa.bindparam("after_email", type_=_ROWS.c.email.type)
_after_line = sa.bindparam("after_line", type_=sa.Integer())
_MATCHES = (
    sa.select(_ROWS.c.line, _ROWS.c.name, _ROWS.c.department, _ROWS.c.cgpa, *_STUDENT_COLUMNS)
    .join(students, students.c.email == _ROWS.c.email)
    .order_by(_ROWS.c.email, _ROWS.c.line)
    .limit(_limit)
    .with_for_update(of=students)
)
_MATCHES_AFTER = {
    # A row value seeks the staging key on PostgreSQL and SQLite; MariaDB/MySQL need it spelt out.
    False: _MATCHES.where(sa.tuple_(_ROWS.c.email, _ROWS.c.line) > sa.tuple_(_after_email, _after_line)),
    True: _MATCHES.where(
        _ROWS.c.email >= _after_email,
        sa.or_(
            _ROWS.c.email > _after_email, sa.and_(_ROWS.c.email == _after_email, _ROWS.c.line > _after_line)
        ),
    ),
}
_REVISE = (
    sa.update(students)
    .where(students.c.id == sa.bindparam("target_id"))
    .where(students.c.version == sa.bindparam("expected_version"))
    .values(
        {
            name: sa.bindparam(f"new_{name}")
            for name in ("name", "name_folded", "department", "cgpa", "updated_at", "version")
        }
    )
)


def _staged_values(row: StagedStudent) -> tuple[Any, ...]:
    """A row as the staging table's columns take it, in their order (checked below)."""
    student = row.student
    return (
        student.email,
        row.line,
        student.id,
        student.name,
        fold(student.name),
        student.department,
        student.cgpa,
    )


if _STAGED_COLUMNS != ("email", "line", "id", "name", "name_folded", "department", "cgpa"):
    raise AssertionError("_staged_values no longer matches the columns of student_import_rows")


class SqlAlchemyStudentImport(StudentImport):
    def __init__(self, session: Statements, events: list[Any]) -> None:
        super().__init__(events)
        self._session = session
        self._mysql = session.dialect_name in _MYSQL
        self._created = False

    async def _drop(self) -> None:
        await self._session.execute(_DROP_MYSQL if self._mysql else _DROP)

    async def _stage(self, batches: AsyncIterable[Sequence[StagedStudent]]) -> None:
        if self._mysql:
            await self._drop()  # one an earlier import on this connection could not drop
        await self._session.execute(_CREATE)
        self._created = True
        if self._session.dialect_name == "postgresql":
            await self._session.copy_records(_ROWS.name, _STAGED_COLUMNS, _records(batches))
            return
        async for batch in batches:
            for start in range(0, len(batch), _INSERT_BATCH):
                chunk = batch[start : start + _INSERT_BATCH]
                await self._session.execute(
                    _INSERT_STAGED,
                    [dict(zip(_STAGED_COLUMNS, _staged_values(row), strict=True)) for row in chunk],
                )

    async def _clashes(self, *, with_stored: bool, limit: int) -> tuple[list[EmailClash], int]:
        page = await self._session.execute(_REPEATED_PAGE, {"limit": limit})
        clashes = [EmailClash(line, email, first) for line, email, first in page.all()]
        count = (await self._session.execute(_REPEATED_COUNT, {})).scalar() or 0
        if with_stored:
            taken = await self._session.execute(_TAKEN_PAGE, {"limit": limit})
            clashes += [EmailClash(line, email) for line, email in taken.all()]
            count += (await self._session.execute(_TAKEN_COUNT, {})).scalar() or 0
        clashes.sort(key=lambda clash: clash.line)
        return clashes[:limit], count

    async def _stored_matches(
        self, after: StagedStudent | None, limit: int
    ) -> list[tuple[StagedStudent, Student]]:
        parameters: dict[str, Any] = {"limit": limit}
        statement = _MATCHES
        if after is not None:
            statement = _MATCHES_AFTER[self._mysql]
            parameters |= {"after_email": after.student.email, "after_line": after.line}
        result = await self._session.execute(statement, parameters)
        matches = []
        for line, name, department, cgpa, *stored in result.all():
            student = Student(*stored)
            row = Student(
                id=student.id,
                name=name,
                email=student.email,
                department=department,
                cgpa=cgpa,
                created_at=student.created_at,
                updated_at=student.updated_at,
            )
            matches.append((StagedStudent(line, row), student))
        return matches

    async def _revise(self, revised: Sequence[tuple[Student, int]]) -> None:
        await self._session.execute(
            _REVISE,
            [
                {
                    "target_id": student.id,
                    "expected_version": version,
                    "new_name": student.name,
                    "new_name_folded": fold(student.name),
                    "new_department": student.department,
                    "new_cgpa": student.cgpa,
                    "new_updated_at": student.updated_at,
                    "new_version": student.version,
                }
                for student, version in revised
            ],
        )

    async def _count_new(self) -> int:
        return (await self._session.execute(_NEW_COUNT, {})).scalar() or 0

    async def _insert_new(self, now: datetime) -> int:
        try:
            result = await self._session.execute(_INSERT_NEW, {"created_at": now, "updated_at": now})
        except IntegrityError:
            # Only another writer can have taken an email since clashes() looked.
            raise EmailAlreadyRegistered("") from None
        return int(result.rowcount)

    async def discard(self) -> None:
        if self._created:
            self._created = False
            await self._drop()


async def _records(batches: AsyncIterable[Sequence[StagedStudent]]) -> AsyncIterator[tuple[Any, ...]]:
    async for batch in batches:
        for row in batch:
            yield _staged_values(row)
