"""StudentRepository over a plain dict: the unit of work's private copy of the committed students."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cmp_to_key
from typing import Any
from uuid import UUID

from application.listing import SortKey, SortValue, StudentFilter, StudentQuery
from application.ports import EmailClash, StagedStudent, StudentImport, StudentRepository
from domain.errors import EmailAlreadyRegistered, StaleVersion, StudentNotFound
from domain.student import Student
from domain.text import fold


class InMemoryStudentRepository(StudentRepository):
    """Checks what the SQL stores check, as it happens; the unit of work checks again at commit.

    Students go in and come out as copies, so a caller changing the one it holds changes nothing
    here until it calls :meth:`update`.
    """

    def __init__(self, rows: dict[UUID, Student], take_write_lock: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self.rows = rows
        self._take_write_lock = take_write_lock

    def _email_holder(self, email: str) -> Student | None:
        return next((s for s in self.rows.values() if s.email == email), None)

    async def _add(self, student: Student) -> None:
        if student.id in self.rows:
            raise ValueError(f"student {student.id} already exists")
        if self._email_holder(student.email) is not None:
            raise EmailAlreadyRegistered(student.email)
        self.rows[student.id] = replace(student)

    async def _get(self, student_id: UUID, *, lock: bool) -> Student | None:
        if lock:
            await self._take_write_lock()
        student = self.rows.get(student_id)
        return replace(student) if student is not None else None

    async def _get_by_email(self, email: str) -> Student | None:
        student = self._email_holder(email)
        return replace(student) if student is not None else None

    def importing(self, *, revising: bool = False, exclusive: bool = False) -> StudentImport:
        # One way for all: it checks everything in memory, and has no indexes to set aside.
        return InMemoryStudentImport(self)

    async def find_page(self, query: StudentQuery) -> list[Student]:
        order = query.order
        rows = [s for s in self.rows.values() if _matches(s, query.filter)]
        rows.sort(key=cmp_to_key(lambda a, b: _compare(_key(a, order), _key(b, order), order)))
        if query.after is not None:
            after = query.after
            rows = [s for s in rows if _compare(_key(s, order), after, order) > 0]
        return [replace(s) for s in rows[: query.limit]]

    async def _update(self, student: Student, *, expected_version: int) -> None:
        self._check_version(student.id, expected_version)
        holder = self._email_holder(student.email)
        if holder is not None and holder.id != student.id:
            raise EmailAlreadyRegistered(student.email)
        self.rows[student.id] = replace(student)

    async def _remove(self, student_id: UUID, *, expected_version: int | None) -> None:
        self._check_version(student_id, expected_version)
        del self.rows[student_id]

    def _check_version(self, student_id: UUID, expected_version: int | None) -> None:
        current = self.rows.get(student_id)
        if current is None:
            raise StudentNotFound(student_id)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(student_id, expected=expected_version, actual=current.version)


class InMemoryStudentImport(StudentImport):
    """Staged rows in a list: the fake keeps everything in memory anyway."""

    def __init__(self, repository: InMemoryStudentRepository) -> None:
        super().__init__(repository.events)
        self._repository = repository
        self._staged: list[StagedStudent] = []

    def _stored_emails(self) -> dict[str, Student]:
        return {student.email: student for student in self._repository.rows.values()}

    async def _stage(self, batches: AsyncIterable[Sequence[StagedStudent]]) -> None:
        async for batch in batches:
            self._staged.extend(batch)

    async def _clashes(self, *, with_stored: bool, limit: int) -> tuple[list[EmailClash], int]:
        stored = self._stored_emails() if with_stored else {}
        first_line: dict[str, int] = {}
        clashes: list[EmailClash] = []
        for row in self._staged:
            email = row.student.email
            earlier = first_line.setdefault(email, row.line)
            if earlier != row.line:
                clashes.append(EmailClash(row.line, email, earlier))
            if email in stored:
                clashes.append(EmailClash(row.line, email))
        clashes.sort(key=lambda clash: clash.line)
        return clashes[:limit], len(clashes)

    async def _stored_matches(
        self, after: StagedStudent | None, limit: int
    ) -> list[tuple[StagedStudent, Student]]:
        await self._repository._take_write_lock()
        stored = self._stored_emails()
        start = 0 if after is None else self._staged.index(after) + 1
        matches: list[tuple[StagedStudent, Student]] = []
        for row in self._staged[start:]:
            holder = stored.get(row.student.email)
            if holder is not None:
                matches.append((row, replace(holder)))
                if len(matches) == limit:
                    break
        return matches

    async def _revise(self, revised: Sequence[tuple[Student, int]]) -> None:
        for student, version in revised:
            self._repository._check_version(student.id, version)
            self._repository.rows[student.id] = replace(student)

    def _new(self) -> list[StagedStudent]:
        stored = self._stored_emails()
        return [row for row in self._staged if row.student.email not in stored]

    async def _count_new(self) -> int:
        return len(self._new())

    async def _insert_new(self, now: datetime) -> int:
        new = self._new()
        for row in new:
            self._repository.rows[row.student.id] = replace(row.student, created_at=now, updated_at=now)
        return len(new)

    async def discard(self) -> None:
        self._staged.clear()


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
