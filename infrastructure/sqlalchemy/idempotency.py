"""IdempotencyStore on SQLAlchemy Core. The primary key (caller, key) settles concurrent claims."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from application.errors import IdempotencyKeyInFlight
from application.idempotency import IdempotencyRecord, IdempotencyStore
from infrastructure.sqlalchemy.session import Statements
from infrastructure.sqlalchemy.tables import columns_of
from infrastructure.sqlalchemy.tables import idempotency_keys as table

# The record's fields, by name, in its own order: a row maps with IdempotencyRecord(*row).
_COLUMNS = columns_of(IdempotencyRecord, table, key="idempotency_key")
_THIS_KEY = sa.and_(
    table.c.caller == sa.bindparam("target_caller"), table.c.idempotency_key == sa.bindparam("target_key")
)
_GET = sa.select(*_COLUMNS).where(_THIS_KEY)
# Statements built once, with every value bound by name (so PostgreSQL runs them on the driver).
_INSERT = sa.insert(table)
_STORED = ("caller", "idempotency_key", "fingerprint", "created_at", "expires_at", "student_id", "snapshot")
_CLAIMED_THEN = table.c.created_at == sa.bindparam("target_created_at")
_TAKE_OVER = (
    sa.update(table)
    .where(_THIS_KEY, _CLAIMED_THEN)
    .values({name: sa.bindparam(f"new_{name}") for name in _STORED})
)
_COMPLETE = (
    sa.update(table)
    .where(_THIS_KEY, _CLAIMED_THEN)
    .values(student_id=sa.bindparam("new_student_id"), snapshot=sa.bindparam("new_snapshot"))
)
_RELEASE = sa.delete(table).where(_THIS_KEY, _CLAIMED_THEN, table.c.snapshot.is_(None))
_PURGE = sa.delete(table).where(table.c.expires_at <= sa.bindparam("now"))


class SqlAlchemyIdempotencyStore(IdempotencyStore):
    def __init__(self, session: Statements) -> None:
        self._session = session

    async def get(self, caller: str, key: str) -> IdempotencyRecord | None:
        result = await self._session.execute(_GET, {"target_caller": caller, "target_key": key})
        row = result.first()
        return IdempotencyRecord(*row) if row is not None else None

    async def claim(self, record: IdempotencyRecord) -> None:
        try:
            await self._session.execute(_INSERT, _values(record))
        except IntegrityError:
            raise IdempotencyKeyInFlight() from None

    async def take_over(self, record: IdempotencyRecord, *, previous_created_at: datetime) -> None:
        result = await self._session.execute(
            _TAKE_OVER,
            {
                "target_caller": record.caller,
                "target_key": record.key,
                "target_created_at": previous_created_at,
                **{f"new_{name}": value for name, value in _values(record).items()},
            },
        )
        if result.rowcount != 1:
            raise IdempotencyKeyInFlight()

    async def complete(
        self, caller: str, key: str, *, created_at: datetime, student_id: UUID, snapshot: str
    ) -> None:
        result = await self._session.execute(
            _COMPLETE,
            {
                "target_caller": caller,
                "target_key": key,
                "target_created_at": created_at,
                "new_student_id": student_id,
                "new_snapshot": snapshot,
            },
        )
        if result.rowcount != 1:
            raise IdempotencyKeyInFlight()  # taken over meanwhile: this request's work is undone

    async def release(self, caller: str, key: str, *, created_at: datetime) -> None:
        await self._session.execute(
            _RELEASE, {"target_caller": caller, "target_key": key, "target_created_at": created_at}
        )

    async def purge_expired(self, now: datetime) -> int:
        result = await self._session.execute(_PURGE, {"now": now})
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
