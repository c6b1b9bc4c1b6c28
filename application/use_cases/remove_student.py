"""RemoveStudent: delete a student, if the precondition admits its current version (DELETE)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from application.ports import UnitOfWork
from application.preconditions import UNCONDITIONAL, Precondition
from application.use_cases.changing import CHANGE_REFUSALS, student_to_change


@dataclass(frozen=True, slots=True)
class RemoveStudentCommand:
    student_id: UUID
    # Which versions the caller agrees to remove (from If-Match); see application/preconditions.py.
    precondition: Precondition = UNCONDITIONAL


class RemoveStudent:
    """Remove a student; its removal is an event like any other change (domain/events.py)."""

    raises: ClassVar[tuple[type[Exception], ...]] = CHANGE_REFUSALS

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def execute(self, command: RemoveStudentCommand) -> None:
        command.precondition.check_stated()
        async with self._uow as uow:
            student = await student_to_change(uow, command.student_id, command.precondition)
            student.remove()
            await uow.students.remove(student.id, expected_version=student.version)
            await uow.commit()
