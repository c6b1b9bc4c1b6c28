"""UnitOfWork in memory: changes stay private to the block until commit applies them atomically."""

from __future__ import annotations

from uuid import UUID

from application.ports import UnitOfWork
from domain.errors import EmailAlreadyRegistered, StaleVersion, StudentNotFound
from domain.student import Student
from infrastructure.memory.idempotency import InMemoryIdempotencyStore
from infrastructure.memory.repository import InMemoryStudentRepository, Write
from infrastructure.memory.store import InMemoryDatabase


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database
        self._repository: InMemoryStudentRepository | None = None
        self._holds_write_lock = False
        self.committed = False

    def _fresh(self) -> InMemoryStudentRepository:
        self._repository = InMemoryStudentRepository(self._database)
        self._repository.take_write_lock = self._take_write_lock
        self.students = self._repository
        self._idempotency = InMemoryIdempotencyStore(self._database)
        self.idempotency = self._idempotency
        return self._repository

    async def _begin(self) -> None:
        self._fresh()
        self.committed = False

    async def commit(self) -> None:
        repository = self._repository
        if repository is None:
            raise RuntimeError("commit outside of the unit of work's block")
        async with self._database.commit_lock:
            # Check every write against what is committed now (another unit may have committed
            # since this one read), then apply all of them or none.
            staged = dict(self._database.students)
            for write in repository.writes:
                _apply(staged, write)
            records = dict(self._database.idempotency)
            for change in self._idempotency.changes:
                change(records)
            self._database.students = staged
            self._database.idempotency = records
        self._fresh()
        self.committed = True

    async def rollback(self) -> None:
        if self._repository is not None:
            self._fresh()

    async def _close(self) -> None:
        self._repository = None
        if self._holds_write_lock:
            self._holds_write_lock = False
            self._database.write_lock.release()

    async def _take_write_lock(self) -> None:
        if not self._holds_write_lock:
            await self._database.write_lock.acquire()
            self._holds_write_lock = True


def _apply(staged: dict[UUID, Student], write: Write) -> None:
    current = staged.get(write.student_id)
    if write.is_insert:
        if current is not None:
            raise ValueError(f"student {write.student_id} already exists")
    elif current is None:
        raise StudentNotFound(write.student_id)
    elif write.expected_version is not None and current.version != write.expected_version:
        raise StaleVersion(write.student_id, expected=write.expected_version, actual=current.version)
    if write.after is None:
        del staged[write.student_id]
        return
    clash = next(
        (s for s in staged.values() if s.email == write.after.email and s.id != write.student_id),
        None,
    )
    if clash is not None:
        raise EmailAlreadyRegistered(write.after.email)
    staged[write.student_id] = write.after
