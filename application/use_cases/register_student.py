from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.ports import Clock, IdGenerator, UnitOfWork
from domain.errors import EmailAlreadyRegistered
from domain.student import Student


@dataclass(frozen=True, slots=True)
class RegisterStudentCommand:
    name: str
    email: str
    department: str
    cgpa: Decimal | int | str


class RegisterStudent:
    def __init__(self, uow: UnitOfWork, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def execute(self, command: RegisterStudentCommand) -> Student:
        student = Student.register(
            id=self._ids.new_id(),
            name=command.name,
            email=command.email,
            department=command.department,
            cgpa=command.cgpa,
            now=self._clock.now(),
        )
        async with self._uow as uow:
            # A friendly early answer; the store's unique index still settles races.
            if await uow.students.get_by_email(student.email) is not None:
                raise EmailAlreadyRegistered(student.email)
            await uow.students.add(student)
            await uow.commit()
        return student
