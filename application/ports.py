"""Ports: what the use-cases need from the outside world, as abstract classes the adapters implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from application.idempotency import IdempotencyStore
from application.listing import StudentQuery
from domain.student import Student


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> UUID: ...


class StudentRepository(ABC):
    """Stores students. Never commits: the unit of work that owns it decides."""

    @abstractmethod
    async def add(self, student: Student) -> None:
        """Store a new student; raises ``EmailAlreadyRegistered`` if the email is taken."""

    @abstractmethod
    async def get(self, student_id: UUID, *, lock: bool = False) -> Student | None:
        """The student, or None. ``lock``: hold it until the unit of work ends, so that writers
        of the same student take turns (SELECT ... FOR UPDATE); for a write that depends on it."""

    @abstractmethod
    async def get_by_email(self, email: str) -> Student | None: ...

    @abstractmethod
    async def list(self, query: StudentQuery) -> list[Student]:
        """At most ``query.limit`` students in ``query.order``, strictly after ``query.after``."""

    @abstractmethod
    async def update(self, student: Student, *, expected_version: int) -> None:
        """Write ``student`` over the stored row if, and only if, that row is at ``expected_version``.

        The check and the write are one atomic step in the store, so it holds across processes.
        Raises ``StaleVersion`` when the row moved on, ``StudentNotFound`` when it is gone and
        ``EmailAlreadyRegistered`` when the new email is taken.
        """

    @abstractmethod
    async def remove(self, student_id: UUID, *, expected_version: int | None = None) -> None:
        """Delete the student (only at ``expected_version`` when given), atomically like update."""


class UnitOfWork(ABC):
    """One transaction. Leaving the ``async with`` block without :meth:`commit` rolls back."""

    students: StudentRepository
    idempotency: IdempotencyStore

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

    @abstractmethod
    async def _begin(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def rollback(self) -> None:
        """Discard everything not yet committed; harmless after a commit."""
