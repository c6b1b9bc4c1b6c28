"""Readiness: does the database answer, quickly, and at which migration revision is it?"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.migrations import current_revision


class DatabaseUnavailable(Exception):
    pass


class DatabaseProbe:
    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self._engine = engine
        self._timeout = timeout

    async def revision(self) -> str | None:
        """The schema revision the database is at; raises DatabaseUnavailable past the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                return await current_revision(self._engine)
        except Exception as exc:  # any failure to answer means "not ready", whatever the driver
            raise DatabaseUnavailable(type(exc).__name__) from exc
