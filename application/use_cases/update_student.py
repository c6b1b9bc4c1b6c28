from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from application.preconditions import UNCONDITIONAL, Precondition
from application.use_cases._revision import StudentRevision
from domain.student import Student


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


class UpdateStudent(StudentRevision):
    """Change some fields of a student (HTTP PATCH)."""

    async def execute(self, command: UpdateStudentCommand) -> Student:
        return await self._revise(command)
