"""Readiness: does the database answer, quickly, and at which migration revision is it?

The probe has a connection of its own, outside the pool that serves requests: a pool busy with
requests says nothing about the database, and must not make the service look unreachable. And
since ``/readyz`` needs no token, anyone can call it as often as they like: concurrent probes
share one check, and an answer is reused for ``reuse_for`` seconds, so the database sees at most
a few probe queries a second however many arrive.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from infrastructure.migrations import current_revision
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.engine import dispose_within
from infrastructure.sqlalchemy.faults import reason_of


class DatabaseUnavailable(Exception):
    """The database cannot serve: too slow to answer (``slow``), or failing; the message says how."""

    def __init__(self, message: str, *, slow: bool) -> None:
        super().__init__(message)
        self.slow = slow


def create_probe_engine(settings: Settings, engine: AsyncEngine) -> AsyncEngine:
    """One kept connection for readiness probes (SQLite: the service's own engine; no network)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return engine
    connect_args: dict[str, Any] = (
        {"timeout": settings.readiness_timeout, "command_timeout": settings.readiness_timeout}
        if url.get_driver_name() == "asyncpg"
        else {"connect_timeout": settings.readiness_timeout}
    )
    return create_async_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=settings.readiness_timeout,
        # A probe may pay a round trip to learn its connection is alive; requests never do.
        pool_pre_ping=True,
        pool_recycle=settings.db_pool_recycle,
        hide_parameters=True,
        connect_args=connect_args,
    )


async def dispose_probe(
    probe_engine: AsyncEngine, engine: AsyncEngine, closing_within: float
) -> AsyncIterator[AsyncEngine]:
    """A dependency-injector resource: disposes the probe's engine unless it is the service's."""
    try:
        yield probe_engine
    finally:
        if probe_engine is not engine:
            await dispose_within(probe_engine, closing_within)


@dataclass(frozen=True, slots=True)
class DatabaseState:
    revision: str | None  # None: not migrated
    writable: bool  # False: a standby, or a database in read-only mode


def _read_only_query(engine: AsyncEngine) -> str | None:
    """How the database says whether a new transaction may write (None: it cannot say)."""
    dialect = engine.dialect
    if dialect.name == "postgresql":
        return "SELECT current_setting('transaction_read_only') = 'on'"
    if dialect.name in ("mysql", "mariadb"):
        # MariaDB before 11.1 names it tx_read_only; MySQL 8 only transaction_read_only.
        name = "tx_read_only" if getattr(dialect, "is_mariadb", False) else "transaction_read_only"
        return f"SELECT @@session.{name} = 1"
    return None


def _sqlite_writable(url: URL) -> bool:
    """Whether SQLite may write the file at ``url``: not when the URL opens it read-only, nor when
    the file cannot be written (its mode, an immutable flag, a read-only mount), where SQLite
    opens it read-only and refuses every write. Without a file of its own (in memory), it may."""
    database = url.database or ""
    if url.query.get("mode") == "ro":
        return False
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return True
    path = database.removeprefix("file:") if url.query.get("uri") else database
    return not os.path.exists(path) or os.access(path, os.W_OK)


async def current_state(engine: AsyncEngine) -> DatabaseState:
    revision = await current_revision(engine)
    if engine.dialect.name == "sqlite":
        return DatabaseState(revision, writable=revision is None or _sqlite_writable(engine.url))
    query = _read_only_query(engine)
    if query is None or revision is None:
        return DatabaseState(revision, writable=True)
    async with engine.connect() as connection:
        read_only = bool((await connection.execute(sa.text(query))).scalar())
    return DatabaseState(revision, writable=not read_only)


class DatabaseProbe:
    def __init__(self, engine: AsyncEngine, timeout: float, reuse_for: float = 0.5) -> None:
        self._engine = engine
        self._timeout = timeout
        self._reuse_for = reuse_for
        self._running: asyncio.Future[DatabaseState] | None = None
        self._answered_at = -float("inf")
        self._answer: DatabaseState | DatabaseUnavailable = DatabaseState(None, writable=True)

    async def state(self) -> DatabaseState:
        """The schema revision the database is at, and whether it takes writes; raises
        DatabaseUnavailable if it cannot say."""
        if time.monotonic() - self._answered_at >= self._reuse_for:
            if self._running is None:
                self._running = asyncio.ensure_future(self._ask())
            running = self._running
            try:
                # A caller that gives up (its client went away) must not cancel the shared check.
                self._answer = await asyncio.shield(running)
            except DatabaseUnavailable as exc:
                self._answer = exc
            finally:
                if self._running is running and running.done():
                    self._running = None
                    self._answered_at = time.monotonic()
        if isinstance(self._answer, DatabaseUnavailable):
            raise self._answer
        return self._answer

    async def _ask(self) -> DatabaseState:
        try:
            async with asyncio.timeout(self._timeout):
                return await current_state(self._engine)
        except TimeoutError:
            raise DatabaseUnavailable(f"no answer within {self._timeout:g} s", slow=True) from None
        except Exception as exc:  # refused, unknown host, bad password: whatever the driver raises
            raise DatabaseUnavailable(reason_of(exc), slow=False) from exc
