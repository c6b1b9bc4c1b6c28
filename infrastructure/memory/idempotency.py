"""IdempotencyStore in memory: staged changes with the same preconditions the SQL store enforces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from application.errors import IdempotencyKeyInFlight
from application.idempotency import IdempotencyRecord, IdempotencyStore
from infrastructure.memory.store import InMemoryDatabase

Records = dict[tuple[str, str], IdempotencyRecord]
# A staged change: applied to a copy of the committed records at commit time, or raising.
Change = Callable[[Records], None]


class InMemoryIdempotencyStore(IdempotencyStore):
    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database
        self.changes: list[Change] = []

    def _view(self) -> Records:
        records = dict(self._database.idempotency)
        for change in self.changes:
            change(records)
        return records

    def _stage(self, change: Change) -> None:
        change(self._view())  # fail now, as the database would, if it does not apply
        self.changes.append(change)

    async def get(self, caller: str, key: str) -> IdempotencyRecord | None:
        return self._view().get((caller, key))

    async def claim(self, record: IdempotencyRecord) -> None:
        def insert(records: Records) -> None:
            if (record.caller, record.key) in records:
                raise IdempotencyKeyInFlight()
            records[(record.caller, record.key)] = record

        self._stage(insert)

    async def take_over(self, record: IdempotencyRecord, *, previous_created_at: datetime) -> None:
        def swap(records: Records) -> None:
            current = records.get((record.caller, record.key))
            if current is None or current.created_at != previous_created_at:
                raise IdempotencyKeyInFlight()
            records[(record.caller, record.key)] = record

        self._stage(swap)

    async def complete(self, caller: str, key: str, *, student_id: UUID, snapshot: str) -> None:
        def finish(records: Records) -> None:
            current = records.get((caller, key))
            if current is not None:
                records[(caller, key)] = replace(current, student_id=student_id, snapshot=snapshot)

        self._stage(finish)

    async def release(self, caller: str, key: str, *, created_at: datetime) -> None:
        def forget(records: Records) -> None:
            current = records.get((caller, key))
            if current is not None and current.created_at == created_at and not current.completed:
                del records[(caller, key)]

        self._stage(forget)

    async def purge_expired(self, now: datetime) -> int:
        expired = [k for k, r in self._view().items() if r.expires_at <= now]

        def purge(records: Records) -> None:
            for k in [k for k, r in records.items() if r.expires_at <= now]:
                del records[k]

        self._stage(purge)
        return len(expired)
