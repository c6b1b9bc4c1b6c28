from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from application.ports import Clock, UnitOfWork
from application.preconditions import UNCONDITIONAL, Precondition
from application.use_cases._revision import StudentRevision
from domain.student import Student


@dataclass(frozen=True, slots=True)
class ReplaceStudentCommand:
    student_id: UUID
    name: str
    email: str
    department: str
    cgpa: Decimal | int | str
    # Which versions the caller agrees to change (from If-Match); see application/preconditions.py.
    precondition: Precondition = UNCONDITIONAL


class ReplaceStudent(StudentRevision):
    """Replace every client-writable field of a student at once (HTTP PUT)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        super().__init__(uow, clock, every_field=True)

    async def execute(self, command: ReplaceStudentCommand) -> Student:
        return await self._revise(command)
