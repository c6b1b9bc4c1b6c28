"""ReplaceStudent: every client-writable field of a student at once, if the precondition admits (PUT)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from application.ports import Clock, UnitOfWork
from application.preconditions import UNCONDITIONAL, Precondition
from application.use_cases.changing import CHANGE_REFUSALS, revise
from domain.errors import EmailAlreadyRegistered, InvalidStudentData
from domain.student import Student, StudentChanges


@dataclass(frozen=True, slots=True)
class ReplaceStudentCommand:
    student_id: UUID
    name: str
    email: str
    department: str
    cgpa: Decimal | int | str
    # Which versions the caller agrees to change (from If-Match); see application/preconditions.py.
    precondition: Precondition = UNCONDITIONAL


class ReplaceStudent:
    """Like an update that names every field; one left out is refused with the others (422)."""

    raises: ClassVar[tuple[type[Exception], ...]] = (
        InvalidStudentData,
        *CHANGE_REFUSALS,
        EmailAlreadyRegistered,
    )

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, command: ReplaceStudentCommand) -> Student:
        changes = StudentChanges.checked(
            name=command.name,
            email=command.email,
            department=command.department,
            cgpa=command.cgpa,
            required=True,
        )
        return await revise(self._uow, self._clock, command.student_id, command.precondition, changes)
