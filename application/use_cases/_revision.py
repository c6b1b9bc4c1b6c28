"""The transaction shared by ReplaceStudent and UpdateStudent: load, check, revise, write."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from application.ports import UnitOfWork
from domain.errors import EmailAlreadyRegistered, StudentNotFound
from domain.student import Student


async def revise_student(
    uow: UnitOfWork,
    student_id: UUID,
    *,
    expected_version: int | None,
    now: datetime,
    name: str | None,
    email: str | None,
    department: str | None,
    cgpa: Decimal | int | str | None,
) -> Student:
    async with uow:
        student = await uow.students.get(student_id)
        if student is None:
            raise StudentNotFound(student_id)
        # Fail fast on a stale copy; the conditional UPDATE below is what makes it hold under races.
        student.ensure_version(expected_version)
        loaded_version = student.version
        previous_email = student.email
        if not student.revise(now=now, name=name, email=email, department=department, cgpa=cgpa):
            return student
        if student.email != previous_email:
            holder = await uow.students.get_by_email(student.email)
            if holder is not None and holder.id != student.id:
                raise EmailAlreadyRegistered(student.email)
        await uow.students.update(student, expected_version=loaded_version)
        await uow.commit()
    return student
