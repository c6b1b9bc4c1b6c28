"""StudentRepository over an in-memory overlay: reads see the block's own changes, others don't."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from functools import cmp_to_key
from typing import Any
from uuid import UUID

from application.listing import SortKey, SortValue, StudentFilter, StudentQuery
from application.ports import StudentRepository
from domain.errors import EmailAlreadyRegistered, StaleVersion, StudentNotFound
from domain.student import Student
from domain.text import fold
from infrastructure.memory.store import InMemoryDatabase


@dataclass(frozen=True, slots=True)
class Write:
    """One change, replayed against the committed store at commit time with its precondition."""

    student_id: UUID
    after: Student | None  # None deletes
    expected_version: int | None  # None: the student must not exist yet (an insert)
    is_insert: bool = False


class InMemoryStudentRepository(StudentRepository):
    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database
        # id -> the block's own version of the student (None: deleted in this block).
        self._overlay: dict[UUID, Student | None] = {}
        self.writes: list[Write] = []
        # Set by the unit of work: takes the database's write lock for the rest of the unit.
        self.take_write_lock: Callable[[], Awaitable[None]] | None = None

    def _visible(self) -> Iterator[Student]:
        for student_id, student in self._database.students.items():
            if student_id not in self._overlay:
                yield student
        for pending in self._overlay.values():
            if pending is not None:
                yield pending

    def _current(self, student_id: UUID) -> Student | None:
        if student_id in self._overlay:
            return self._overlay[student_id]
        return self._database.students.get(student_id)

    def _email_holder(self, email: str) -> Student | None:
        return next((s for s in self._visible() if s.email == email), None)

    async def add(self, student: Student) -> None:
        if self._current(student.id) is not None:
            raise ValueError(f"student {student.id} already exists")
        if self._email_holder(student.email) is not None:
            raise EmailAlreadyRegistered(student.email)
        self._overlay[student.id] = replace(student)
        self.writes.append(Write(student.id, replace(student), None, is_insert=True))

    async def get(self, student_id: UUID, *, lock: bool = False) -> Student | None:
        if lock and self.take_write_lock is not None:
            await self.take_write_lock()
        student = self._current(student_id)
        return replace(student) if student is not None else None

    async def get_by_email(self, email: str) -> Student | None:
        student = self._email_holder(email)
        return replace(student) if student is not None else None

    async def list(self, query: StudentQuery) -> list[Student]:
        order = query.order
        rows = [s for s in self._visible() if _matches(s, query.filter)]
        rows.sort(key=cmp_to_key(lambda a, b: _compare(_key(a, order), _key(b, order), order)))
        if query.after is not None:
            after = query.after
            rows = [s for s in rows if _compare(_key(s, order), after, order) > 0]
        return [replace(s) for s in rows[: query.limit]]

    async def update(self, student: Student, *, expected_version: int) -> None:
        current = self._current(student.id)
        if current is None:
            raise StudentNotFound(student.id)
        if current.version != expected_version:
            raise StaleVersion(student.id, expected=expected_version, actual=current.version)
        holder = self._email_holder(student.email)
        if holder is not None and holder.id != student.id:
            raise EmailAlreadyRegistered(student.email)
        self._overlay[student.id] = replace(student)
        self.writes.append(Write(student.id, replace(student), expected_version))

    async def remove(self, student_id: UUID, *, expected_version: int | None = None) -> None:
        current = self._current(student_id)
        if current is None:
            raise StudentNotFound(student_id)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(student_id, expected=expected_version, actual=current.version)
        self._overlay[student_id] = None
        self.writes.append(Write(student_id, None, current.version))


def _matches(student: Student, filter: StudentFilter) -> bool:
    if filter.department is not None and student.department != filter.department:
        return False
    if filter.cgpa_min is not None and student.cgpa < filter.cgpa_min:
        return False
    if filter.cgpa_max is not None and student.cgpa > filter.cgpa_max:
        return False
    return not (filter.name_contains and fold(filter.name_contains) not in fold(student.name))


def _key(student: Student, order: tuple[SortKey, ...]) -> tuple[SortValue, ...]:
    return tuple(getattr(student, key.field.value) for key in order)


def _compare(left: tuple[Any, ...], right: tuple[Any, ...], order: tuple[SortKey, ...]) -> int:
    for a, b, key in zip(left, right, order, strict=True):
        if a != b:
            result = -1 if a < b else 1
            return -result if key.descending else result
    return 0
