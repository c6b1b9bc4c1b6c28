"""The steps of a write on one existing student, for every use-case that makes one.

A write use-case calls them in the order of application/preconditions.py: check the values
(the domain's rules), ``precondition.check_stated()``, then, inside its unit of work,
:func:`student_to_change`, the change itself, and ``uow.students.update`` (or ``remove``) at the
version the student was loaded at; :func:`revise` is all of that for a change of fields.
``CHANGE_REFUSALS`` is what those steps can end with; a use-case adds what its own change raises.
"""

from __future__ import annotations

from uuid import UUID

from application.errors import InvalidPrecondition, PreconditionRequired
from application.ports import Clock, UnitOfWork
from application.preconditions import Precondition
from domain.errors import StaleVersion, StudentNotFound
from domain.student import Student, StudentChanges

CHANGE_REFUSALS: tuple[type[Exception], ...] = (
    PreconditionRequired,
    InvalidPrecondition,
    StudentNotFound,
    StaleVersion,
)


async def student_to_change(uow: UnitOfWork, student_id: UUID, precondition: Precondition) -> Student:
    """The student, locked until the unit of work ends, if the precondition admits its version.

    Locked: concurrent writers of this student take turns, so the version read here is still the
    current one when the write runs, and ``If-Match: *`` is never refused however many race. The
    write checks the version again itself, so it holds where nothing locks, too.
    """
    student = await uow.students.get(student_id, lock=True)
    if student is None:
        raise StudentNotFound(student_id)
    if not precondition.admits(student.version):
        raise StaleVersion(student.id, actual=student.version)
    return student


async def revise(
    uow: UnitOfWork, clock: Clock, student_id: UUID, precondition: Precondition, changes: StudentChanges
) -> Student:
    """Apply checked ``changes`` to the student and write them, the steps above in their order.

    A change that changes nothing writes nothing and keeps the version. A taken email is refused
    by the store's unique index (``EmailAlreadyRegistered``), which also settles races.
    """
    precondition.check_stated()
    async with uow:
        student = await student_to_change(uow, student_id, precondition)
        loaded_version = student.version
        if student.apply(changes, now=clock.now()):
            await uow.students.update(student, expected_version=loaded_version)
            await uow.commit()
    return student
