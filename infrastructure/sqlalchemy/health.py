"""Readiness: does the database answer, quickly, and at which migration revision is it?"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.migrations import current_revision


class DatabaseUnavailable(Exception):
    """The database cannot serve: too slow to answer (``slow``), or failing; the message says how."""

    def __init__(self, message: str, *, slow: bool) -> None:
        super().__init__(message)
        self.slow = slow


class DatabaseProbe:
    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self._engine = engine
        self._timeout = timeout

    async def revision(self) -> str | None:
        """The schema revision the database is at; raises DatabaseUnavailable if it cannot say."""
        try:
            async with asyncio.timeout(self._timeout):
                return await current_revision(self._engine)
        except TimeoutError:
            raise DatabaseUnavailable(f"no answer within {self._timeout:g} s", slow=True) from None
        except Exception as exc:  # refused, unknown host, bad password: whatever the driver raises
            cause = getattr(exc, "orig", None) or exc
            raise DatabaseUnavailable(f"{type(cause).__name__}: {cause}", slow=False) from exc
