"""IdempotencyStore over a plain dict, with the preconditions the SQL store enforces."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from application.errors import IdempotencyKeyInFlight
from application.idempotency import IdempotencyRecord, IdempotencyStore

Records = dict[tuple[str, str], IdempotencyRecord]


class InMemoryIdempotencyStore(IdempotencyStore):
    def __init__(self, records: Records) -> None:
        self.records = records

    async def get(self, caller: str, key: str) -> IdempotencyRecord | None:
        return self.records.get((caller, key))

    async def claim(self, record: IdempotencyRecord) -> None:
        if (record.caller, record.key) in self.records:
            raise IdempotencyKeyInFlight()
        self.records[(record.caller, record.key)] = record

    async def take_over(self, record: IdempotencyRecord, *, previous_created_at: datetime) -> None:
        current = self.records.get((record.caller, record.key))
        if current is None or current.created_at != previous_created_at:
            raise IdempotencyKeyInFlight()
        self.records[(record.caller, record.key)] = record

    async def complete(
        self, caller: str, key: str, *, created_at: datetime, student_id: UUID, snapshot: str
    ) -> None:
        current = self.records.get((caller, key))
        if current is None or current.created_at != created_at:
            raise IdempotencyKeyInFlight()
        self.records[(caller, key)] = replace(current, student_id=student_id, snapshot=snapshot)

    async def release(self, caller: str, key: str, *, created_at: datetime) -> None:
        current = self.records.get((caller, key))
        if current is not None and current.created_at == created_at and not current.completed:
            del self.records[(caller, key)]

    async def purge_expired(self, now: datetime) -> int:
        expired = [k for k, record in self.records.items() if record.expires_at <= now]
        for k in expired:
            del self.records[k]
        return len(expired)
