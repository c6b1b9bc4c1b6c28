"""StudentRepository on SQLAlchemy Core: explicit column selects mapped straight onto the entity."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from application.listing import SortField, SortKey, StudentQuery
from application.ports import StudentImport, StudentRepository
from domain.errors import EmailAlreadyRegistered, StaleVersion, StudentNotFound
from domain.student import Student
from domain.text import fold
from infrastructure.sqlalchemy.importing import SqlAlchemyStudentImport
from infrastructure.sqlalchemy.session import Statements
from infrastructure.sqlalchemy.tables import columns_of, students

# The entity's fields, by name, in its own order: a row maps with Student(*row).
_COLUMNS = columns_of(Student, students)
# Statements built once: SQLAlchemy caches their compiled form, so a call only binds values.
_SELECT = sa.select(*_COLUMNS)
_BY_ID = _SELECT.where(students.c.id == sa.bindparam("id"))
# SQLite has no row locks and compiles this without FOR UPDATE: its writers hold the whole
# database from BEGIN IMMEDIATE on, which serialises them all the same.
_BY_ID_LOCKED = _BY_ID.with_for_update()
_BY_EMAIL = _SELECT.where(students.c.email == sa.bindparam("email"))
_VERSION_OF = sa.select(students.c.version).where(students.c.id == sa.bindparam("id"))
_WRITABLE = (
    "name",
    "name_folded",
    "email",
    "department",
    "cgpa",
    "created_at",
    "updated_at",
    "version",
)
_INSERT = sa.insert(students)
_UPDATE = (
    sa.update(students)
    .where(students.c.id == sa.bindparam("target_id"))
    .where(students.c.version == sa.bindparam("expected_version"))
    .values({name: sa.bindparam(f"new_{name}") for name in _WRITABLE})
)
_DELETE = sa.delete(students).where(students.c.id == sa.bindparam("target_id"))
_DELETE_AT_VERSION = _DELETE.where(students.c.version == sa.bindparam("expected_version"))


def _row_values(student: Student) -> dict[str, Any]:
    return {
        "name": student.name,
        "name_folded": fold(student.name),
        "email": student.email,
        "department": student.department,
        "cgpa": student.cgpa,
        "created_at": student.created_at,
        "updated_at": student.updated_at,
        "version": student.version,
    }


def _is_email_clash(error: IntegrityError) -> bool:
    # Each driver words it differently, but each names the column or the constraint.
    return "email" in str(error.orig).lower()


class SqlAlchemyStudentRepository(StudentRepository):
    def __init__(self, session: Statements) -> None:
        super().__init__()
        self._session = session
        self._row_values_compare = session.dialect_name not in ("mysql", "mariadb")

    def importing(self, *, revising: bool = False, exclusive: bool = False) -> StudentImport:
        return SqlAlchemyStudentImport(self._session, self.events, revising=revising, exclusive=exclusive)

    async def _add(self, student: Student) -> None:
        try:
            await self._session.execute(_INSERT, {"id": student.id, **_row_values(student)})
        except IntegrityError as exc:
            if _is_email_clash(exc):
                raise EmailAlreadyRegistered(student.email) from None
            raise

    async def _get(self, student_id: UUID, *, lock: bool) -> Student | None:
        statement = _BY_ID_LOCKED if lock else _BY_ID
        row = (await self._session.execute(statement, {"id": student_id})).first()
        return Student(*row) if row is not None else None

    async def _get_by_email(self, email: str) -> Student | None:
        row = (await self._session.execute(_BY_EMAIL, {"email": email})).first()
        return Student(*row) if row is not None else None

    async def find_page(self, query: StudentQuery) -> list[Student]:
        order = _decisive(query.order)
        statement = _list_statement(
            order,
            department=query.filter.department is not None,
            cgpa_min=query.filter.cgpa_min is not None,
            cgpa_max=query.filter.cgpa_max is not None,
            name=bool(query.filter.name_contains),
            after=query.after is not None,
            row_values=self._row_values_compare,
        )
        result = await self._session.execute(statement, _list_parameters(query, len(order)))
        return [Student(*row) for row in result.all()]

    async def _update(self, student: Student, *, expected_version: int) -> None:
        try:
            result = await self._session.execute(
                _UPDATE,
                {
                    "target_id": student.id,
                    "expected_version": expected_version,
                    **{f"new_{name}": value for name, value in _row_values(student).items()},
                },
            )
        except IntegrityError as exc:
            if _is_email_clash(exc):
                raise EmailAlreadyRegistered(student.email) from None
            raise
        if result.rowcount == 0:
            await self._explain_miss(student.id, expected_version)

    async def _remove(self, student_id: UUID, *, expected_version: int | None) -> None:
        statement = _DELETE
        params: dict[str, Any] = {"target_id": student_id}
        if expected_version is not None:
            statement = _DELETE_AT_VERSION
            params["expected_version"] = expected_version
        result = await self._session.execute(statement, params)
        if result.rowcount == 0:
            await self._explain_miss(student_id, expected_version)

    async def _explain_miss(self, student_id: UUID, expected_version: int | None) -> None:
        actual = (await self._session.execute(_VERSION_OF, {"id": student_id})).scalar()
        if actual is None or expected_version is None:
            raise StudentNotFound(student_id)
        raise StaleVersion(student_id, expected=expected_version, actual=actual)


def _column(key: SortKey) -> sa.ColumnElement[Any]:
    return students.c[key.field.value]


# Columns no two students share, none of them nullable.
_UNIQUE = frozenset({SortField.ID, SortField.EMAIL})


def _decisive(order: tuple[SortKey, ...]) -> tuple[SortKey, ...]:
    """``order`` up to its first unique key: no two rows tie there, so the keys after it never
    decide. Cutting them lets the unique index on email serve ``sort=email`` (and the page after a
    cursor) alone, without an (email, id) index kept only for the id nobody needs (migration 0006).
    The cursor still carries every key of the full order; the statement binds the ones it uses.
    """
    for i, key in enumerate(order):
        if key.field in _UNIQUE:
            return order[: i + 1]
    return order


# Every list request of one shape (which filters, which order, first page or not) runs the same
# statement with different values. Building it once per shape spares SQLAlchemy re-constructing
# the clauses and their cache key on every request.
@lru_cache(maxsize=512)
def _list_statement(
    order: tuple[SortKey, ...],
    *,
    department: bool,
    cgpa_min: bool,
    cgpa_max: bool,
    name: bool,
    after: bool,
    row_values: bool,
) -> sa.Select[Any]:
    conditions: list[sa.ColumnElement[bool]] = []
    if department:
        conditions.append(students.c.department == sa.bindparam("department"))
    if cgpa_min:
        conditions.append(students.c.cgpa >= sa.bindparam("cgpa_min"))
    if cgpa_max:
        conditions.append(students.c.cgpa <= sa.bindparam("cgpa_max"))
    if name:
        conditions.append(students.c.name_folded.like(sa.bindparam("name_pattern"), escape="/"))
    if after:
        position = tuple(sa.bindparam(f"after_{i}", type_=_column(key).type) for i, key in enumerate(order))
        conditions.append(_after(order, position, row_values=row_values))
    ordering = [_column(key).desc() if key.descending else _column(key) for key in order]
    return _SELECT.where(*conditions).order_by(*ordering).limit(sa.bindparam("page_limit", type_=sa.Integer))


def _list_parameters(query: StudentQuery, keys: int) -> dict[str, Any]:
    """The values of ``_list_statement``'s parameters; ``keys``: how many keys of the order it uses."""
    filter = query.filter
    parameters: dict[str, Any] = {"page_limit": query.limit}
    if filter.department is not None:
        parameters["department"] = filter.department
    if filter.cgpa_min is not None:
        parameters["cgpa_min"] = filter.cgpa_min
    if filter.cgpa_max is not None:
        parameters["cgpa_max"] = filter.cgpa_max
    if filter.name_contains:
        parameters["name_pattern"] = f"%{_escape_like(fold(filter.name_contains))}%"
    if query.after is not None:
        parameters.update({f"after_{i}": value for i, value in enumerate(query.after[:keys])})
    return parameters


def _escape_like(text: str) -> str:
    """Make ``%`` and ``_`` in a client's search literal (``/`` is the escape character)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _after(
    order: tuple[SortKey, ...], position: tuple[sa.BindParameter[Any], ...], *, row_values: bool
) -> sa.ColumnElement[bool]:
    """Rows strictly after ``position`` in ``order``, in a form the composite index can seek.

    With one direction throughout this is a row-value comparison, ``(name, id) > (:n, :i)``,
    which PostgreSQL and SQLite turn into an index range. MariaDB/MySQL do not seek on row values,
    and mixed directions cannot be one comparison, so those get the expanded form with a leading
    bound on the first key: ``k1 >= :v1 AND (k1 > :v1 OR (k1 = :v1 AND id > :i))``.
    """
    columns = [_column(key) for key in order]
    if row_values and len({key.descending for key in order}) == 1:
        left, right = sa.tuple_(*columns), sa.tuple_(*position)
        return left < right if order[0].descending else left > right
    alternatives = []
    for i, key in enumerate(order):
        equal = [columns[j] == position[j] for j in range(i)]
        beyond = columns[i] < position[i] if key.descending else columns[i] > position[i]
        alternatives.append(sa.and_(*equal, beyond))
    first = columns[0] <= position[0] if order[0].descending else columns[0] >= position[0]
    return sa.and_(first, sa.or_(*alternatives))
