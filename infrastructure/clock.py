"""The Clock port on the system's clock, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """The wall clock, in UTC, at microsecond precision (what every supported database keeps)."""

    def now(self) -> datetime:
        return datetime.now(UTC)
