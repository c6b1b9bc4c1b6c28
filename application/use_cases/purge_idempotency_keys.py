"""PurgeExpiredIdempotencyKeys: forget the idempotency records whose time to be replayed is over."""

from __future__ import annotations

from application.ports import Clock, UnitOfWork


class PurgeExpiredIdempotencyKeys:
    """Delete idempotency records past their expiry; safe to run from any number of processes."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self) -> int:
        async with self._uow as uow:
            purged = await uow.idempotency.purge_expired(self._clock.now())
            await uow.commit()
        return purged
