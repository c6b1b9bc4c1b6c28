from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from application.ports import Clock, UnitOfWork
from application.use_cases._revision import revise_student
from domain.student import Student


@dataclass(frozen=True, slots=True)
class UpdateStudentCommand:
    """A partial change: ``None`` leaves a field as it is."""

    student_id: UUID
    name: str | None = None
    email: str | None = None
    department: str | None = None
    cgpa: Decimal | int | str | None = None
    expected_version: int | None = None


class UpdateStudent:
    """Change some fields of a student (HTTP PATCH)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, command: UpdateStudentCommand) -> Student:
        return await revise_student(
            self._uow,
            command.student_id,
            expected_version=command.expected_version,
            now=self._clock.now(),
            name=command.name,
            email=command.email,
            department=command.department,
            cgpa=command.cgpa,
        )
