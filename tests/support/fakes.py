"""Stand-ins for the clock and the id generator, so that tests can name times and ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID


class FixedClock:
    """A clock that moves only when told to, one second per reading by default."""

    def __init__(self, start: datetime | None = None, step: timedelta = timedelta(seconds=1)):
        self.current = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        self.step = step

    def now(self) -> datetime:
        value = self.current
        self.current += self.step
        return value


class SequentialIds:
    """Ids 00000000-...-0001, -0002, ... in order, so tests can name them."""

    def __init__(self) -> None:
        self.count = 0

    def new_id(self) -> UUID:
        self.count += 1
        return UUID(int=(0x7 << 76) | (0b10 << 62) | self.count)

    def new_ids(self, count: int) -> list[UUID]:
        return [self.new_id() for _ in range(count)]
