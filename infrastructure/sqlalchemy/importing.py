"""StudentImport on SQLAlchemy Core: rows staged in a temporary table, checked and stored by SQL.

The staging table (tables.py) is the connection's own and lives inside the unit of work's
transaction. Each batch of checked rows goes into it (COPY on PostgreSQL, asyncpg's binary
``copy_records_to_table``; a multi-row INSERT on SQLite and MariaDB/MySQL) and, straight away,
into the students table as new students wherever its email is free: nobody sees them before the
commit, and a rejected import rolls them back. The next batch is read and checked meanwhile (a
task of its own), so the database's slowest work, the students table's indexes, runs while this
process does its own.

Once a row is known to be wrong (``give_up_storing``: the import will be refused), batches are
only staged, as after a clash. An import that only registers (no ``revising``) stores every row of
a batch whose email nobody has, and counts: while each batch is stored whole, no email was there
twice nor taken, so there is nothing to check at the end. Once a batch is not (a repeat inside it,
seen before it is sent, or a row the students table already had the email of), it stores no more
and only stages, and the end looks for the clashes in SQL: repeated emails by a window over the
staged rows, taken ones by a join on the unique email index that leaves out the students the
import stored itself. An import that revises keeps the staged rows keyed by (email, line): a batch
stores the rows whose email no student has nor an earlier line; at the end only repeats are looked
for (a taken email is a revision, not a clash), and then come the revisions, one UPDATE per row at
the version read (the rows are locked first), and the rows still to store (their email was taken
and is free again) by one ``INSERT ... SELECT``.

An exclusive import (PostgreSQL and SQLite) first sets aside the students table's indexes that
are not unique: it reads their definitions from the catalogue, as the database states them, and
drops them, inside the transaction; the rows go in with only the primary key and the unique email
index to keep, and the indexes are built again from their definitions, each in one go (a sort,
where keeping it took a descent of the tree per row), before the unit of work commits. A failed
import rolls the drops back with the rest. PostgreSQL locks the table against every other
transaction first (ACCESS EXCLUSIVE: readers wait too); on SQLite the import's write transaction
excludes other writers already, and readers keep seeing the table as it was, indexes and all.
MariaDB/MySQL commit at every change of an index, so they refuse an exclusive import.

PostgreSQL and SQLite undo the temporary table with the transaction; MariaDB/MySQL keep it for
the connection's life, so it is dropped explicitly (``DROP TEMPORARY TABLE``, which, unlike a
plain DROP TABLE there, does not commit) before each import and after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable, DropTable

from application.errors import ExclusiveImportUnavailable
from application.ports import EmailClash, StagedStudent, StudentImport
from domain.errors import EmailAlreadyRegistered
from domain.student import Student
from domain.text import fold
from infrastructure.sqlalchemy.session import Statements
from infrastructure.sqlalchemy.tables import (
    UtcDateTime,
    columns_of,
    student_import_rows,
    student_import_rows_by_line,
    students,
)

# Both staging tables have these columns; only CREATE tells them apart (_CREATE below), so every
# other statement is written once, against this one.
_ROWS = student_import_rows
_STAGED_COLUMNS = tuple(column.name for column in _ROWS.columns)
_STUDENT_COLUMNS = columns_of(Student, students)
# Rows per INSERT where there is no COPY: MariaDB's default max_allowed_packet is 16 MiB, and a
# row here is at most some 900 bytes.
_INSERT_BATCH = 1000
_MYSQL = ("mysql", "mariadb")

# Keyed by (email, line) too when the import revises (tables.py); the statements are the same.
_CREATE = {True: CreateTable(_ROWS), False: CreateTable(student_import_rows_by_line)}
_DROP = DropTable(_ROWS, if_exists=True)
_DROP_MYSQL = sa.text(f"DROP TEMPORARY TABLE IF EXISTS {_ROWS.name}")
_INSERT_STAGED = sa.insert(_ROWS)

_limit = sa.bindparam("limit", type_=sa.Integer())
_first_line = sa.func.min(_ROWS.c.line).over(partition_by=_ROWS.c.email).label("first_line")
_with_first = sa.select(_ROWS.c.line, _ROWS.c.email, _first_line).subquery()
_REPEATED = sa.select(_with_first).where(_with_first.c.line != _with_first.c.first_line)
_REPEATED_PAGE = _REPEATED.order_by(_with_first.c.line).limit(_limit)
_REPEATED_COUNT = sa.select(sa.func.count()).select_from(_REPEATED.subquery())
# Held by a student the import did not store itself as it staged (neither this row nor an
# earlier line of the file with the same email, which the window below reports).
_own = _ROWS.alias("own")
_held_by_another = sa.and_(students.c.email == _ROWS.c.email, ~sa.exists().where(_own.c.id == students.c.id))
_TAKEN = sa.select(_ROWS.c.line, _ROWS.c.email).select_from(_ROWS).join(students, _held_by_another)
_TAKEN_PAGE = _TAKEN.order_by(_ROWS.c.line).limit(_limit)
_TAKEN_COUNT = sa.select(sa.func.count()).select_from(_TAKEN.subquery())

_not_stored = ~sa.exists().where(students.c.email == _ROWS.c.email)
_NEW_COUNT = sa.select(sa.func.count()).select_from(_ROWS).where(~sa.exists().where(_held_by_another))
# Every column of the students table, in its order, which _AS_STUDENTS selects in.
_STORED_COLUMNS = [column.name for column in students.columns]
_AS_STUDENTS = sa.select(
    _ROWS.c.id,
    _ROWS.c.name,
    _ROWS.c.name_folded,
    _ROWS.c.email,
    _ROWS.c.department,
    # Hundredths over a decimal constant: exact where the column is (PostgreSQL's numeric,
    # MariaDB/MySQL's DECIMAL); on SQLite, which keeps the CGPA as a REAL, one correctly rounded
    # division, which gives the double that the CGPA's own text would.
    _ROWS.c.cgpa_cents / sa.literal_column("100.0", sa.Numeric()),
    sa.bindparam("created_at", type_=UtcDateTime()),
    sa.bindparam("updated_at", type_=UtcDateTime()),
    sa.literal_column("1", sa.Integer()),
)
# At the end: the rows whose email is free now, in line order, which is id order (the primary
# key's index grows at its end).
_INSERT_NEW = sa.insert(students).from_select(
    _STORED_COLUMNS, _AS_STUDENTS.where(_not_stored).order_by(_ROWS.c.line)
)
# As each batch is staged: its rows whose email no student has, nor an earlier line of the file.
# A plain INSERT (PostgreSQL's ON CONFLICT DO NOTHING measured twice as slow here): should
# another writer take one of these emails in between, the unique index refuses the import whole.
_earlier_line = _ROWS.alias("earlier")
_REGISTER_BATCH = sa.insert(students).from_select(
    _STORED_COLUMNS,
    _AS_STUDENTS.where(
        _ROWS.c.line.between(sa.bindparam("first_line"), sa.bindparam("last_line")),
        _not_stored,
        ~sa.exists().where(_earlier_line.c.email == _ROWS.c.email, _earlier_line.c.line < _ROWS.c.line),
    ).order_by(_ROWS.c.line),
)
# The same for an import that only registers: a row whose email a student has is left out, which
# is how the import learns that a clash is there at all. The earlier lines need no look here: an
# earlier batch's rows are students by now, and a repeat inside this batch is caught before it is
# sent (_stage_batch).
_STORE_BATCH = sa.insert(students).from_select(
    _STORED_COLUMNS,
    _AS_STUDENTS.where(
        _ROWS.c.line.between(sa.bindparam("first_line"), sa.bindparam("last_line")), _not_stored
    ).order_by(_ROWS.c.line),
)
# MariaDB/MySQL: INSERT ... SELECT reads its source under shared next-key locks, so the NOT
# EXISTS over students locked the gaps around every email it looked for, and two imports of
# different emails deadlocked whenever theirs interleaved. INSERT IGNORE leaves a row whose email
# is taken out without reading students at all (the rows are checked: IGNORE's other leniencies,
# such as truncating a value too long, cannot come into play).
_STORE_BATCH_MYSQL = (
    sa.insert(students)
    .prefix_with("IGNORE")
    .from_select(
        _STORED_COLUMNS,
        _AS_STUDENTS.where(
            _ROWS.c.line.between(sa.bindparam("first_line"), sa.bindparam("last_line"))
        ).order_by(_ROWS.c.line),
    )
)
# Batches read and checked ahead of the one being stored.
_AHEAD = 2

_after_email = sa.bindparam("after_email", type_=_ROWS.c.email.type)
_after_line = sa.bindparam("after_line", type_=sa.Integer())
_MATCHES = (
    sa.select(_ROWS.c.line, _ROWS.c.name, _ROWS.c.department, _ROWS.c.cgpa_cents, *_STUDENT_COLUMNS)
    .select_from(_ROWS)
    .join(students, _held_by_another)
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


# The students table's indexes that are not unique, nor the primary key, nor a constraint's:
# (name, the statement that makes it again), as the database states them. Written in Core where
# the driver path runs it (PostgreSQL, driver.py), which takes no text. On PostgreSQL an index
# its definition does not say everything of stays as it is, kept row by row: one with a comment,
# a statistics target, a tablespace of its own, the table's CLUSTER mark, or not valid (built
# again, each would come back without).
_pg_index = sa.table(
    "pg_index",
    sa.column("indexrelid"),
    sa.column("indrelid"),
    sa.column("indisunique", sa.Boolean()),
    sa.column("indisprimary", sa.Boolean()),
    sa.column("indisclustered", sa.Boolean()),
    sa.column("indisvalid", sa.Boolean()),
    schema="pg_catalog",
)
_pg_constraint = sa.table("pg_constraint", sa.column("conindid"), schema="pg_catalog")
_pg_class = sa.table("pg_class", sa.column("oid"), sa.column("reltablespace"), schema="pg_catalog")
_pg_attribute = sa.table(
    "pg_attribute", sa.column("attrelid"), sa.column("attstattarget", sa.Integer()), schema="pg_catalog"
)
# Constants written into the statement: the driver path binds no value a statement holds itself.
_ZERO = sa.literal_column("0", sa.Integer())
_index_name = sa.cast(sa.cast(_pg_index.c.indexrelid, REGCLASS), sa.Text())
_SET_ASIDE: dict[str, sa.Executable] = {
    "postgresql": sa.select(_index_name, sa.func.pg_get_indexdef(_pg_index.c.indexrelid, type_=sa.Text()))
    .where(
        _pg_index.c.indrelid == sa.cast(sa.bindparam("table", type_=sa.Text()), REGCLASS),
        ~_pg_index.c.indisunique,
        ~_pg_index.c.indisprimary,
        ~sa.exists().where(_pg_constraint.c.conindid == _pg_index.c.indexrelid),
        ~_pg_index.c.indisclustered,
        _pg_index.c.indisvalid,
        sa.func.obj_description(_pg_index.c.indexrelid, sa.literal_column("'pg_class'")).is_(None),
        sa.exists().where(_pg_class.c.oid == _pg_index.c.indexrelid, _pg_class.c.reltablespace == _ZERO),
        # -1 until PostgreSQL 17, NULL from it: the default.
        ~sa.exists().where(
            _pg_attribute.c.attrelid == _pg_index.c.indexrelid, _pg_attribute.c.attstattarget >= _ZERO
        ),
    )
    .order_by(_index_name),
    "sqlite": sa.text(
        "SELECT '\"' || replace(l.name, '\"', '\"\"') || '\"', m.sql FROM pragma_index_list(:table) AS l "
        "JOIN sqlite_master AS m ON m.type = 'index' AND m.name = l.name "
        "WHERE l.\"unique\" = 0 AND l.origin = 'c' ORDER BY 1"
    ),
}


def _as_written(statement: str) -> sa.DDL:
    """A statement the catalogue gave, run as it is (DDL would take a % for a placeholder). DDL,
    not text: the driver path runs schema statements, which take no values, and no text."""
    return sa.DDL(statement.replace("%", "%%"))  # type: ignore[no-untyped-call]  # SQLAlchemy's own


_LOCK_EXCLUSIVE = _as_written(f"LOCK TABLE {students.name} IN ACCESS EXCLUSIVE MODE")


# Every CGPA a student can have (0.00 to 10.00, two decimals), in hundredths.
_CENTS = {Decimal(cents).scaleb(-2): cents for cents in range(1001)}


def _cents(cgpa: Decimal) -> int:
    cents = _CENTS.get(cgpa)
    return int(cgpa.scaleb(2)) if cents is None else cents


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
        _cents(student.cgpa),
    )


if _STAGED_COLUMNS != ("email", "line", "id", "name", "name_folded", "department", "cgpa_cents"):
    raise AssertionError("_staged_values no longer matches the columns of student_import_rows")


class SqlAlchemyStudentImport(StudentImport):
    def __init__(
        self, session: Statements, events: list[Any], *, revising: bool = False, exclusive: bool = False
    ) -> None:
        super().__init__(events)
        self._session = session
        self._mysql = session.dialect_name in _MYSQL
        if exclusive and session.dialect_name not in _SET_ASIDE:
            if self._mysql:
                raise ExclusiveImportUnavailable("MariaDB/MySQL")
            raise ExclusiveImportUnavailable(session.dialect_name, "is not known to drop indexes inside one")
        self._exclusive = exclusive
        # (name, definition) of each index an exclusive import dropped, to build again.
        self._set_aside: list[tuple[str, str]] = []
        self._revising = revising
        self._created = False
        self._staged = 0
        self._registered = 0
        # Staged rows whose stored student _stored_matches locked: revised or left unchanged.
        self._matched = 0
        # Without revisions: every staged row so far is stored too, so nothing clashed yet.
        self._all_stored = not revising
        # Until a row is known to be wrong (give_up_storing), batches are stored as they come.
        self._storing = True

    def give_up_storing(self) -> None:
        # As after a batch that did not go in whole: staged only, and the end looks in SQL.
        self._storing = self._all_stored = False

    async def _drop(self) -> None:
        await self._session.execute(_DROP_MYSQL if self._mysql else _DROP)

    async def _stage(self, batches: AsyncIterable[Sequence[StagedStudent]]) -> None:
        if self._mysql:
            await self._drop()  # one an earlier import on this connection could not drop
        await self._session.execute(_CREATE[self._revising])
        self._created = True
        if self._exclusive:
            await self._set_indexes_aside()
        # Closed as the loop ends, however it ends: the reader task stops then, not at some later
        # garbage collection (which, past the event loop's end, reports it as destroyed pending).
        async with contextlib.aclosing(_read_ahead(batches)) as ahead:
            async for batch in ahead:
                await self._stage_batch(batch)

    async def _set_indexes_aside(self) -> None:
        dialect = self._session.dialect_name
        if dialect == "postgresql":
            await self._session.execute(_LOCK_EXCLUSIVE)
        found = await self._session.execute(_SET_ASIDE[dialect], {"table": students.name})
        self._set_aside = [(name, definition) for name, definition in found.all()]
        for name, _ in self._set_aside:
            await self._session.execute(_as_written(f"DROP INDEX {name}"))

    async def _build_set_aside(self) -> None:
        while self._set_aside:
            _, definition = self._set_aside.pop(0)
            await self._session.execute(_as_written(definition))

    async def _stage_batch(self, batch: Sequence[StagedStudent]) -> None:
        self._staged += len(batch)
        if self._session.dialect_name == "postgresql":
            await self._session.copy_records(
                _ROWS.name, _STAGED_COLUMNS, [_staged_values(row) for row in batch]
            )
        else:
            for start in range(0, len(batch), _INSERT_BATCH):
                chunk = batch[start : start + _INSERT_BATCH]
                values = [dict(zip(_STAGED_COLUMNS, _staged_values(row), strict=True)) for row in chunk]
                await self._session.execute(_INSERT_STAGED, values)
        if not self._storing:
            return
        if self._revising:
            self._registered += await self._register(_REGISTER_BATCH, batch)
        elif self._all_stored:
            # A repeat inside the batch would hit the unique index: the import would fail
            # whole, with no line to name. So it stops storing, and clashes() looks.
            if len({row.student.email for row in batch}) < len(batch):
                self._all_stored = False
                return
            stored = await self._register(_STORE_BATCH_MYSQL if self._mysql else _STORE_BATCH, batch)
            self._registered += stored
            # give_up_storing may have come in the meantime (from the task reading ahead).
            self._all_stored = self._all_stored and stored == len(batch)

    async def _register(self, statement: sa.Insert, batch: Sequence[StagedStudent]) -> int:
        registered_at = batch[0].student.created_at
        try:
            result = await self._session.execute(
                statement,
                {
                    "first_line": batch[0].line,
                    "last_line": batch[-1].line,
                    "created_at": registered_at,
                    "updated_at": registered_at,
                },
            )
        except IntegrityError:
            raise EmailAlreadyRegistered("") from None
        return max(int(result.rowcount), 0)

    async def _clashes(self, *, with_stored: bool, limit: int) -> tuple[list[EmailClash], int]:
        if self._all_stored:
            return [], 0  # the unique index took every row: no email is there twice
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
        for line, name, department, cgpa_cents, *stored in result.all():
            student = Student(*stored)
            row = Student(
                id=student.id,
                name=name,
                email=student.email,
                department=department,
                cgpa=Decimal(cgpa_cents).scaleb(-2),
                created_at=student.created_at,
                updated_at=student.updated_at,
            )
            matches.append((StagedStudent(line, row), student))
        self._matched += len(matches)
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
        if self._all_stored:
            return self._registered
        return (await self._session.execute(_NEW_COUNT, {})).scalar() or 0

    async def _insert_new(self, now: datetime) -> int:
        inserted = await self._insert_rest(now)
        await self._build_set_aside()
        return inserted

    async def _insert_rest(self, now: datetime) -> int:
        if self._all_stored:
            return self._registered
        try:
            result = await self._session.execute(_INSERT_NEW, {"created_at": now, "updated_at": now})
        except IntegrityError:
            # Only another writer can have taken an email since clashes() looked.
            raise EmailAlreadyRegistered("") from None
        inserted = max(int(result.rowcount), 0)
        # No email is staged twice (clashes() found none), and every staged row is stored by
        # now, or locked with its student, or here. One that is not was left out by the NOT
        # EXISTS: another writer registered its email, and committed, since clashes() looked.
        if inserted < self._staged - self._registered - self._matched:
            raise EmailAlreadyRegistered("")
        return self._registered + inserted

    async def discard(self) -> None:
        if self._created:
            self._created = False
            await self._drop()


async def _read_ahead(
    batches: AsyncIterable[Sequence[StagedStudent]],
) -> AsyncGenerator[Sequence[StagedStudent], None]:
    """``batches``, read and checked by a task of its own up to _AHEAD batches ahead: while one
    batch is being stored, this process reads the next. Its errors come out here, in order."""
    queue: asyncio.Queue[Sequence[StagedStudent] | BaseException | None] = asyncio.Queue(_AHEAD)

    async def read() -> None:
        try:
            async for batch in batches:
                await queue.put(batch)
        except Exception as exc:
            # Handed on in its turn; should the consumer be gone, the cancel ends this wait.
            await queue.put(exc)
            return
        await queue.put(None)

    reader = asyncio.get_running_loop().create_task(read())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
