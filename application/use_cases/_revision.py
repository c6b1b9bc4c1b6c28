"""What ReplaceStudent and UpdateStudent share: load, check the version, revise, write."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol
from uuid import UUID

from application.ports import Clock, UnitOfWork
from domain.errors import EmailAlreadyRegistered, StudentNotFound
from domain.student import Student


class Revision(Protocol):
    """A change to one student; ``None`` leaves a field as it is."""

    @property
    def student_id(self) -> UUID: ...
    @property
    def name(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def department(self) -> str | None: ...
    @property
    def cgpa(self) -> Decimal | int | str | None: ...
    # The version the caller last saw (from its ETag); ``None`` skips the check.
    @property
    def expected_version(self) -> int | None: ...


class StudentRevision:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def _revise(self, change: Revision) -> Student:
        async with self._uow as uow:
            student = await uow.students.get(change.student_id)
            if student is None:
                raise StudentNotFound(change.student_id)
            # Fail fast on a stale copy; the conditional UPDATE below is what holds under races.
            student.ensure_version(change.expected_version)
            loaded_version = student.version
            previous_email = student.email
            changed = student.revise(
                now=self._clock.now(),
                name=change.name,
                email=change.email,
                department=change.department,
                cgpa=change.cgpa,
            )
            if not changed:
                return student
            if student.email != previous_email:
                holder = await uow.students.get_by_email(student.email)
                if holder is not None and holder.id != student.id:
                    raise EmailAlreadyRegistered(student.email)
            await uow.students.update(student, expected_version=loaded_version)
            await uow.commit()
        return student
