"""UnitOfWork in memory: a private copy of the committed state on begin, swapped in on commit.

A commit succeeds only if nothing it changed was committed by another unit of work since this
one began (compare-and-swap, key by key), and if no two students then share an email: the same
outcomes the SQL stores give, with the version check inside the UPDATE and the unique index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from application.errors import IdempotencyKeyInFlight
from application.events import NO_HANDLERS, EventBus
from application.ports import UnitOfWork
from domain.errors import EmailAlreadyRegistered, StaleVersion, StudentNotFound
from domain.student import Student
from infrastructure.memory.idempotency import InMemoryIdempotencyStore
from infrastructure.memory.repository import InMemoryStudentRepository
from infrastructure.memory.store import InMemoryDatabase

K = TypeVar("K")
V = TypeVar("V")


class InMemoryUnitOfWork(UnitOfWork):
    students: InMemoryStudentRepository
    idempotency: InMemoryIdempotencyStore

    def __init__(self, database: InMemoryDatabase, *, event_bus: EventBus = NO_HANDLERS) -> None:
        self._database = database
        self.event_bus = event_bus
        self._holds_write_lock = False

    def _start(self) -> None:
        # The committed dicts are never changed in place (store.py), so these are the snapshot.
        self._began_with = (self._database.students, self._database.idempotency)
        self.students = InMemoryStudentRepository(dict(self._database.students), self._take_write_lock)
        self.idempotency = InMemoryIdempotencyStore(dict(self._database.idempotency))

    async def _begin(self) -> None:
        self._start()

    async def _commit(self) -> None:
        began_students, began_records = self._began_with
        # No await from here to the swap: no other unit of work can commit in between.
        students = _swap(self._database.students, began_students, self.students.rows, _student_conflict)
        records = _swap(self._database.idempotency, began_records, self.idempotency.records, _record_conflict)
        _check_emails_unique(students, _changed(began_students, self.students.rows))
        self._database.students, self._database.idempotency = students, records
        self._start()

    async def rollback(self) -> None:
        self._start()

    async def _close(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            self._database.write_lock.release()

    async def _take_write_lock(self) -> None:
        if not self._holds_write_lock:
            await self._database.write_lock.acquire()
            self._holds_write_lock = True
            # Another writer may have committed while this one waited: read on from what is
            # committed now, as SELECT ... FOR UPDATE reads the row as it is once it gets it.
            began_students, began_records = self._began_with
            self._began_with = (
                _rebase(began_students, self._database.students, self.students.rows),
                _rebase(began_records, self._database.idempotency, self.idempotency.records),
            )


def _check_emails_unique(students: dict[UUID, Student], changed: list[UUID]) -> None:
    """The unique index on email: no student this unit wrote shares its email with another."""
    written = {students[k].email for k in changed if k in students}
    if not written:
        return
    holders: dict[str, int] = {}
    for student in students.values():
        if student.email in written:
            holders[student.email] = holders.get(student.email, 0) + 1
    for email, count in holders.items():
        if count > 1:
            raise EmailAlreadyRegistered(email)


def _changed(began: dict[K, V], mine: dict[K, V]) -> list[K]:
    """The keys this unit of work wrote: a repository stores a new object on every write."""
    return [k for k in began.keys() | mine.keys() if mine.get(k) is not began.get(k)]


def _rebase(began: dict[K, V], committed: dict[K, V], mine: dict[K, V]) -> dict[K, V]:
    """Bring ``mine`` up to ``committed``, keeping this unit's own changes; returns what they
    must still be checked against at commit (the values they were made over)."""
    changed = _changed(began, mine)
    own = {k: mine[k] for k in changed if k in mine}
    rebased = dict(committed)
    mine.clear()
    mine.update(committed)
    for k in changed:
        if k in began:
            rebased[k] = began[k]
        else:
            rebased.pop(k, None)
        if k in own:
            mine[k] = own[k]
        else:
            mine.pop(k, None)
    return rebased


def _swap(
    committed: dict[K, V],
    began: dict[K, V],
    mine: dict[K, V],
    conflict: Callable[[K, V | None, V | None], Exception],
) -> dict[K, V]:
    """The committed dict with this unit's changes, or the conflict of a key another unit changed."""
    changed = _changed(began, mine)
    for k in changed:
        if committed.get(k) is not began.get(k):
            raise conflict(k, began.get(k), committed.get(k))
    merged = dict(committed)
    for k in changed:
        if k in mine:
            merged[k] = mine[k]
        else:
            del merged[k]
    return merged


def _student_conflict(student_id: UUID, began: Student | None, now: Student | None) -> Exception:
    if began is None:
        return ValueError(f"student {student_id} already exists")
    if now is None:
        return StudentNotFound(student_id)
    return StaleVersion(student_id, expected=began.version, actual=now.version)


def _record_conflict(key: tuple[str, str], began: object, now: object) -> Exception:
    # Another request claimed, completed or released the same key first: as the primary key does.
    return IdempotencyKeyInFlight()
