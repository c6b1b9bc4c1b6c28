from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from application.errors import InvalidPrecondition, PreconditionRequired
from application.ports import UnitOfWork
from application.preconditions import UNCONDITIONAL, Precondition
from domain.errors import StaleVersion, StudentNotFound


@dataclass(frozen=True, slots=True)
class RemoveStudentCommand:
    student_id: UUID
    # Which versions the caller agrees to remove (from If-Match); see application/preconditions.py.
    precondition: Precondition = UNCONDITIONAL


class RemoveStudent:
    """Remove a student, if the precondition admits its current version."""

    raises: ClassVar[tuple[type[Exception], ...]] = (
        PreconditionRequired,
        InvalidPrecondition,
        StudentNotFound,
        StaleVersion,
    )

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def execute(self, command: RemoveStudentCommand) -> None:
        command.precondition.check_stated()
        async with self._uow as uow:
            student = await uow.students.get(command.student_id, lock=True)
            if student is None:
                raise StudentNotFound(command.student_id)
            if not command.precondition.admits(student.version):
                raise StaleVersion(student.id, actual=student.version)
            student.remove()
            await uow.students.remove(student.id, expected_version=student.version)
            await uow.commit()
