"""UpdateStudent: change some of a student's fields, if the precondition admits its version (PATCH)."""

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
class UpdateStudentCommand:
    """A partial change: ``None`` leaves a field as it is."""

    student_id: UUID
    name: str | None = None
    email: str | None = None
    department: str | None = None
    cgpa: Decimal | int | str | None = None
    # Which versions the caller agrees to change (from If-Match); see application/preconditions.py.
    precondition: Precondition = UNCONDITIONAL


class UpdateStudent:
    """Change the fields the command names; a change that changes nothing keeps the version."""

    raises: ClassVar[tuple[type[Exception], ...]] = (
        InvalidStudentData,
        *CHANGE_REFUSALS,
        EmailAlreadyRegistered,
    )

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, command: UpdateStudentCommand) -> Student:
        changes = StudentChanges.checked(
            name=command.name, email=command.email, department=command.department, cgpa=command.cgpa
        )
        return await revise(self._uow, self._clock, command.student_id, command.precondition, changes)
