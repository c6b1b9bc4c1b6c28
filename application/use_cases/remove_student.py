from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class RemoveStudentCommand:
    student_id: UUID
    expected_version: int | None = None


class RemoveStudent:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def execute(self, command: RemoveStudentCommand) -> None:
        async with self._uow as uow:
            await uow.students.remove(command.student_id, expected_version=command.expected_version)
            await uow.commit()
