"""IdempotencyStore on SQLAlchemy Core. The primary key (caller, key) settles concurrent claims."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from application.errors import IdempotencyKeyInFlight
from application.idempotency import IdempotencyRecord, IdempotencyStore
from infrastructure.sqlalchemy.session import Session
from infrastructure.sqlalchemy.tables import columns_of
from infrastructure.sqlalchemy.tables import idempotency_keys as table

# The record's fields, by name, in its own order: a row maps with IdempotencyRecord(*row).
_COLUMNS = columns_of(IdempotencyRecord, table, key="idempotency_key")
_THIS_KEY = sa.and_(
    table.c.caller == sa.bindparam("target_caller"), table.c.idempotency_key == sa.bindparam("target_key")
)
_GET = sa.select(*_COLUMNS).where(_THIS_KEY)


class SqlAlchemyIdempotencyStore(IdempotencyStore):
    def __init__(self, session: Session) -> None:
        self._session = session

    async def get(self, caller: str, key: str) -> IdempotencyRecord | None:
        result = await self._session.execute(_GET, {"target_caller": caller, "target_key": key})
        row = result.first()
        return IdempotencyRecord(*row) if row is not None else None

    async def claim(self, record: IdempotencyRecord) -> None:
        try:
            await self._session.execute(sa.insert(table).values(_values(record)))
        except IntegrityError:
            raise IdempotencyKeyInFlight() from None

    async def take_over(self, record: IdempotencyRecord, *, previous_created_at: datetime) -> None:
        result = await self._session.execute(
            sa.update(table)
            .where(_THIS_KEY, table.c.created_at == previous_created_at)
            .values(_values(record)),
            {"target_caller": record.caller, "target_key": record.key},
        )
        if result.rowcount != 1:
            raise IdempotencyKeyInFlight()

    async def complete(self, caller: str, key: str, *, student_id: UUID, snapshot: str) -> None:
        await self._session.execute(
            sa.update(table).where(_THIS_KEY).values(student_id=student_id, snapshot=snapshot),
            {"target_caller": caller, "target_key": key},
        )

    async def release(self, caller: str, key: str, *, created_at: datetime) -> None:
        await self._session.execute(
            sa.delete(table).where(_THIS_KEY, table.c.created_at == created_at, table.c.snapshot.is_(None)),
            {"target_caller": caller, "target_key": key},
        )

    async def purge_expired(self, now: datetime) -> int:
        result = await self._session.execute(sa.delete(table).where(table.c.expires_at <= now))
        return int(result.rowcount)


def _values(record: IdempotencyRecord) -> dict[str, object]:
    return {
        "caller": record.caller,
        "idempotency_key": record.key,
        "fingerprint": record.fingerprint,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "student_id": record.student_id,
        "snapshot": record.snapshot,
    }
