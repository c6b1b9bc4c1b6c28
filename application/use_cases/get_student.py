from __future__ import annotations

from uuid import UUID

from application.ports import UnitOfWork
from domain.errors import StudentNotFound
from domain.student import Student


class GetStudent:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def execute(self, student_id: UUID) -> Student:
        async with self._uow as uow:
            student = await uow.students.get(student_id)
        if student is None:
            raise StudentNotFound(student_id)
        return student
