"""What ReplaceStudent and UpdateStudent share: validate, judge the precondition, lock, revise, write."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Protocol
from uuid import UUID

from application.errors import InvalidPrecondition, PreconditionRequired
from application.ports import Clock, UnitOfWork
from application.preconditions import Precondition
from domain.errors import EmailAlreadyRegistered, InvalidStudentData, StaleVersion, StudentNotFound
from domain.student import Student, StudentChanges


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
    @property
    def precondition(self) -> Precondition: ...


class StudentRevision:
    raises: ClassVar[tuple[type[Exception], ...]] = (
        InvalidStudentData,
        PreconditionRequired,
        InvalidPrecondition,
        StudentNotFound,
        StaleVersion,
        EmailAlreadyRegistered,
    )

    def __init__(self, uow: UnitOfWork, clock: Clock, *, every_field: bool = False) -> None:
        self._uow = uow
        self._clock = clock
        self._every_field = every_field

    async def _revise(self, change: Revision) -> Student:
        # The order of application/preconditions.py: values, precondition stated, exists, admitted.
        changes = StudentChanges.checked(
            name=change.name,
            email=change.email,
            department=change.department,
            cgpa=change.cgpa,
            required=self._every_field,
        )
        change.precondition.check_stated()
        async with self._uow as uow:
            # Locked until the block ends: concurrent writers of this student take turns, so the
            # version read here is still the current one when the UPDATE below runs.
            student = await uow.students.get(change.student_id, lock=True)
            if student is None:
                raise StudentNotFound(change.student_id)
            if not change.precondition.admits(student.version):
                raise StaleVersion(student.id, actual=student.version)
            loaded_version = student.version
            previous_email = student.email
            if not student.apply(changes, now=self._clock.now()):
                return student
            if student.email != previous_email:
                holder = await uow.students.get_by_email(student.email)
                if holder is not None and holder.id != student.id:
                    raise EmailAlreadyRegistered(student.email)
            # The version check stays in the UPDATE itself: it holds even where nothing locks.
            await uow.students.update(student, expected_version=loaded_version)
            await uow.commit()
        return student
