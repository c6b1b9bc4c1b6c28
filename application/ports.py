"""Ports: what the use-cases need from the outside world, as abstract classes the adapters implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from application.events import NO_HANDLERS, EventBus
from application.idempotency import IdempotencyStore
from application.listing import StudentQuery
from domain.events import DomainEvent
from domain.student import Student


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> UUID: ...


class StudentRepository(ABC):
    """Stores students. Never commits: the unit of work that owns it decides.

    Adapters implement the underscored methods; the public ones around them remember every
    student handed out or given (``seen``), whose events the unit of work collects on commit.
    """

    def __init__(self) -> None:
        self.seen: list[Student] = []

    async def add(self, student: Student) -> None:
        """Store a new student; raises ``EmailAlreadyRegistered`` if the email is taken."""
        await self._add(student)
        self.seen.append(student)

    async def get(self, student_id: UUID, *, lock: bool = False) -> Student | None:
        """The student, or None. ``lock``: hold it until the unit of work ends, so that writers
        of the same student take turns (SELECT ... FOR UPDATE); for a write that depends on it."""
        student = await self._get(student_id, lock=lock)
        if student is not None:
            self.seen.append(student)
        return student

    async def get_by_email(self, email: str) -> Student | None:
        student = await self._get_by_email(email)
        if student is not None:
            self.seen.append(student)
        return student

    async def update(self, student: Student, *, expected_version: int) -> None:
        """Write ``student`` over the stored row if, and only if, that row is at ``expected_version``.

        The check and the write are one atomic step in the store, so it holds across processes.
        Raises ``StaleVersion`` when the row moved on, ``StudentNotFound`` when it is gone and
        ``EmailAlreadyRegistered`` when the new email is taken.
        """
        await self._update(student, expected_version=expected_version)
        self.seen.append(student)

    @abstractmethod
    async def find_page(self, query: StudentQuery) -> list[Student]:
        """At most ``query.limit`` students in ``query.order``, strictly after ``query.after``.

        A page is for reading: its students are not ``seen`` (load one by id to change it).
        """

    @abstractmethod
    async def remove(self, student_id: UUID, *, expected_version: int | None = None) -> None:
        """Delete the student (only at ``expected_version`` when given), atomically like update."""

    @abstractmethod
    async def _add(self, student: Student) -> None: ...

    @abstractmethod
    async def _get(self, student_id: UUID, *, lock: bool) -> Student | None: ...

    @abstractmethod
    async def _get_by_email(self, email: str) -> Student | None: ...

    @abstractmethod
    async def _update(self, student: Student, *, expected_version: int) -> None: ...


class UnitOfWork(ABC):
    """One transaction. Leaving the ``async with`` block without :meth:`commit` rolls back.

    :meth:`commit` publishes, once the store has committed, the events of every student the
    repository saw in the block (see application/events.py); a rollback forgets them.
    """

    students: StudentRepository
    idempotency: IdempotencyStore
    event_bus: EventBus = NO_HANDLERS

    async def __aenter__(self) -> Self:
        await self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self._close()

    async def commit(self) -> None:
        seen = self.students.seen  # an adapter may start afresh once committed: keep what it saw
        await self._commit()
        events: list[DomainEvent] = []
        for student in seen:
            if student.events:  # the same student can be seen twice: take its events once
                events += student.events
                student.events.clear()
        seen.clear()
        if events:
            await self.event_bus.publish(events)

    @abstractmethod
    async def _begin(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    @abstractmethod
    async def _commit(self) -> None:
        """Make the block's changes durable, all or none."""

    @abstractmethod
    async def rollback(self) -> None:
        """Discard everything not yet committed; harmless after a commit."""
