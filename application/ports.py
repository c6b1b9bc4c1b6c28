"""Ports: what the use-cases need from the outside world, as abstract classes the adapters implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import NamedTuple, Protocol, Self
from uuid import UUID

from application.events import NO_HANDLERS, EventBus
from application.idempotency import IdempotencyStore
from application.listing import StudentQuery
from domain.events import DomainEvent, StudentsImported
from domain.student import Student


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> UUID: ...

    def new_ids(self, count: int) -> list[UUID]:
        """``count`` new ids at once (a bulk import's), as ``new_id`` would make them one by one."""
        ...


class StudentRepository(ABC):
    """Stores students. Never commits: the unit of work that owns it decides.

    Adapters implement the underscored methods. The public ones around them take a student's
    events (domain/events.py) when the store has accepted its write, and keep them in
    ``events`` for the unit of work to publish once it has committed: an event recorded on a
    student that was never written, or whose write was refused, is never published.
    """

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        # The last student handed out per id, whose events a remove() by id takes.
        self._loaded: dict[UUID, Student] = {}

    def forget(self) -> None:
        """Drop what was taken (the unit of work rolled back)."""
        self.events.clear()
        self._loaded.clear()

    def _take_events(self, student: Student) -> None:
        if student.events:
            self.events += student.events
            student.events.clear()

    async def add(self, student: Student) -> None:
        """Store a new student; raises ``EmailAlreadyRegistered`` if the email is taken."""
        await self._add(student)
        self._take_events(student)

    async def get(self, student_id: UUID, *, lock: bool = False) -> Student | None:
        """The student, or None. ``lock``: hold it until the unit of work ends, so that writers
        of the same student take turns (SELECT ... FOR UPDATE); for a write that depends on it."""
        student = await self._get(student_id, lock=lock)
        if student is not None:
            self._loaded[student_id] = student
        return student

    async def get_by_email(self, email: str) -> Student | None:
        return await self._get_by_email(email)

    async def update(self, student: Student, *, expected_version: int) -> None:
        """Write ``student`` over the stored row if, and only if, that row is at ``expected_version``.

        The check and the write are one atomic step in the store, so it holds across processes.
        Raises ``StaleVersion`` when the row moved on, ``StudentNotFound`` when it is gone and
        ``EmailAlreadyRegistered`` when the new email is taken.
        """
        await self._update(student, expected_version=expected_version)
        self._take_events(student)

    async def remove(self, student_id: UUID, *, expected_version: int | None = None) -> None:
        """Delete the student (only at ``expected_version`` when given), atomically like update.

        The events taken are those of the student :meth:`get` handed out (``student.remove()``).
        """
        await self._remove(student_id, expected_version=expected_version)
        loaded = self._loaded.pop(student_id, None)
        if loaded is not None:
            self._take_events(loaded)

    @abstractmethod
    def importing(self, *, revising: bool = False, exclusive: bool = False) -> StudentImport:
        """A new import into this repository's transaction (see :class:`StudentImport`).

        ``revising``: a staged row whose email a stored student has revises that student
        (:meth:`StudentImport.stored_matches`). Without it every such row is a clash, so the
        adapter may store each row as it stages it and look for clashes only once one was seen.

        ``exclusive``: the import may take the students table for itself until the unit of work
        ends (other transactions wait to read or write it) and keep the indexes that are not
        unique only once the rows are in, building them again, which costs less than keeping
        them row by row. Raises ExclusiveImportUnavailable where the store cannot do so and
        still undo the import whole."""

    @abstractmethod
    async def find_page(self, query: StudentQuery) -> list[Student]:
        """At most ``query.limit`` students in ``query.order``, strictly after ``query.after``."""

    @abstractmethod
    async def _add(self, student: Student) -> None: ...

    @abstractmethod
    async def _get(self, student_id: UUID, *, lock: bool) -> Student | None: ...

    @abstractmethod
    async def _get_by_email(self, email: str) -> Student | None: ...

    @abstractmethod
    async def _update(self, student: Student, *, expected_version: int) -> None: ...

    @abstractmethod
    async def _remove(self, student_id: UUID, *, expected_version: int | None) -> None: ...


class StagedStudent(NamedTuple):
    """A row of an import that passed the domain's rules: the student it registers, and the line
    of the file it came from (so that a clash can name it). A named tuple: an import makes one
    per row."""

    line: int
    student: Student


@dataclass(frozen=True, slots=True)
class EmailClash:
    """A staged row whose email is taken: by an earlier line of the same import, or, when
    ``earlier_line`` is None, by a stored student."""

    line: int
    email: str
    earlier_line: int | None = None


class StudentImport(ABC):
    """The rows of one import, staged in the unit of work's transaction: no other transaction
    sees them, and a rollback forgets them. An adapter may store a staged row as a new student
    as soon as it is staged (in the same transaction, so no one sees it before the commit), when
    its email is free; every method then answers as if it had waited for :meth:`insert_new`
    (a row it stored is not a clash with itself). :meth:`revise` and :meth:`insert_new` each
    record one aggregated event of what was stored, not one per student, so that memory stays
    flat however many rows there are.

    Adapters implement the underscored methods; :meth:`stage` runs once, before the rest.
    """

    def __init__(self, events: list[DomainEvent]) -> None:
        self._events = events

    async def stage(self, batches: AsyncIterable[Sequence[StagedStudent]]) -> None:
        """Stage every row of ``batches``, as they come (the fastest way the store has)."""
        await self._stage(batches)

    def give_up_storing(self) -> None:  # noqa: B027  # optional: for adapters that store early
        """Some row is wrong, so the import will be refused: the rows staged from now on need
        only be found clashing or not, never stored. An adapter that stores as it stages may
        stop (the import then fails sooner); what every method answers stays the same."""

    async def clashes(self, *, with_stored: bool, limit: int) -> tuple[list[EmailClash], int]:
        """The staged rows whose email an earlier staged row has and, ``with_stored``, those whose
        email a stored student has: the first ``limit`` in line order, and how many in all."""
        return await self._clashes(with_stored=with_stored, limit=limit)

    async def stored_matches(
        self, after: StagedStudent | None, limit: int
    ) -> list[tuple[StagedStudent, Student]]:
        """Up to ``limit`` staged rows whose email a stored student has, each with that student,
        locked until the unit of work ends; continues after the row ``after`` of the last call."""
        return await self._stored_matches(after, limit)

    async def revise(self, revised: Sequence[tuple[Student, int]], *, dry_run: bool = False) -> None:
        """Write each student over its stored row, which must still be at the version paired with
        it (the rows are locked: it is); ``dry_run`` writes nothing and records nothing."""
        if not revised or dry_run:
            return
        await self._revise(revised)
        self._events.append(StudentsImported(revised=len(revised)))

    async def insert_new(self, *, now: datetime, dry_run: bool = False) -> int:
        """Register, at ``now``, every staged row whose email no stored student has; how many
        (with ``dry_run``, how many it would). Raises ``EmailAlreadyRegistered`` when another
        writer took one of those emails since :meth:`clashes` looked."""
        if dry_run:
            return await self._count_new()
        count = await self._insert_new(now)
        if count:
            self._events.append(StudentsImported(registered=count))
        return count

    @abstractmethod
    async def discard(self) -> None:
        """Drop what is staged, stored or not; the import is over. Harmless if nothing is."""

    @abstractmethod
    async def _stage(self, batches: AsyncIterable[Sequence[StagedStudent]]) -> None: ...

    @abstractmethod
    async def _clashes(self, *, with_stored: bool, limit: int) -> tuple[list[EmailClash], int]: ...

    @abstractmethod
    async def _stored_matches(
        self, after: StagedStudent | None, limit: int
    ) -> list[tuple[StagedStudent, Student]]: ...

    @abstractmethod
    async def _revise(self, revised: Sequence[tuple[Student, int]]) -> None: ...

    @abstractmethod
    async def _count_new(self) -> int: ...

    @abstractmethod
    async def _insert_new(self, now: datetime) -> int: ...


class UnitOfWork(ABC):
    """One transaction. Leaving the ``async with`` block without :meth:`commit` rolls back.

    :meth:`commit` publishes, once the store has committed, the events of the writes the
    repository made in the block (see application/events.py); a rollback forgets them.
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
        # An adapter may start afresh once committed: keep what its repository took.
        events = self.students.events
        await self._commit()
        if events:
            published, events[:] = list(events), []
            await self.event_bus.publish(published)

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
