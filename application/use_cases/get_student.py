"""GetStudent: one student by id, if it is there (and, when the caller asks, at a version it names)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from application.errors import InvalidPrecondition
from application.ports import UnitOfWork
from application.preconditions import Precondition
from domain.errors import StaleVersion, StudentNotFound
from domain.student import Student


class GetStudent:
    """One student, by id."""

    raises: ClassVar[tuple[type[Exception], ...]] = (StudentNotFound, InvalidPrecondition, StaleVersion)

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def execute(self, student_id: UUID, precondition: Precondition | None = None) -> Student:
        """``precondition``: what If-Match asks of a read (RFC 9110 13.2.2: 412 when it fails)."""
        if precondition is not None:
            precondition.check_stated()
        async with self._uow as uow:
            student = await uow.students.get(student_id)
        if student is None:
            raise StudentNotFound(student_id)
        if precondition is not None and not precondition.admits(student.version):
            raise StaleVersion(student.id, actual=student.version)
        return student
