from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from application.use_cases._revision import StudentRevision
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


class ReplaceStudent(StudentRevision):
    """Replace every client-writable field of a student at once (HTTP PUT)."""

    async def execute(self, command: ReplaceStudentCommand) -> Student:
        return await self._revise(command)
