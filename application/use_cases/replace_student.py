from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from application.ports import Clock, UnitOfWork
from application.use_cases._revision import revise_student
from domain.student import Student


@dataclass(frozen=True, slots=True)
class ReplaceStudentCommand:
    student_id: UUID
    name: str
    email: str
    department: str
    cgpa: Decimal | int | str
    # The version the caller last saw (from its ETag); ``None`` skips the check.
    expected_version: int | None = None


class ReplaceStudent:
    """Replace every client-writable field of a student at once (HTTP PUT)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, command: ReplaceStudentCommand) -> Student:
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
