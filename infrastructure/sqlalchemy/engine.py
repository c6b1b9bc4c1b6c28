"""Building the async engine from settings, with the per-backend connection set-up in one place."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from infrastructure.observability.metrics import DB_POOL_IN_USE
from infrastructure.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 5000
logger = logging.getLogger(__name__)


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    options: dict[str, Any] = {
        # DB_ECHO is a logger level (see infrastructure/observability/logging.py), not SQLAlchemy's
        # echo, which would print to standard output past the log pipeline.
        "pool_pre_ping": settings.db_pool_pre_ping,
        # Statement values (emails, names) never appear in exception messages or echoed SQL, so
        # they cannot reach a log line.
        "hide_parameters": True,
    }
    pool = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
    }
    if _is_sqlite(url):
        if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
            # One shared connection, or every checkout would see its own empty database.
            options["poolclass"] = StaticPool
        else:
            options |= pool
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        options |= pool
        # A server that accepts the TCP connection and then says nothing must not hold a request
        # longer than waiting for a pooled connection would (the drivers' defaults: 60 s, 10 s).
        options["connect_args"] = _timeouts(url, settings.db_pool_timeout, settings.db_statement_timeout)
    engine = create_async_engine(url, **options)
    if _is_sqlite(url):
        _configure_sqlite(engine)
        if options.get("poolclass") is not StaticPool and not url.query.get("uri"):
            _follow_the_file(engine, os.path.abspath(str(url.database)))
    _check_out_live_connections(engine)
    return engine


def _timeouts(url: URL, seconds: float, statement_seconds: float) -> dict[str, Any]:
    driver = url.get_driver_name()
    if driver == "asyncpg":
        # asyncpg bounds every statement itself (BEGIN and COMMIT included), for next to nothing:
        # an asyncio timeout around each one measured 22,000 instructions a point read.
        return {"timeout": seconds, "command_timeout": statement_seconds}
    if driver == "asyncmy":
        import asyncmy

        # asyncmy's connect_timeout covers the TCP connect only: a server that accepts and then
        # says nothing would hold the handshake for ever.
        return {"connect_timeout": seconds, "async_creator_fn": _within(seconds, asyncmy.connect)}
    return {}


def _within(seconds: float, connect: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        async with asyncio.timeout(seconds):
            return await connect(*args, **kwargs)

    return bounded


def _known_closed(dbapi_connection: Any) -> bool:
    """Whether the driver has already seen the server close this connection (no round trip).

    asyncpg and asyncmy read their sockets all the time, so a connection the server ended
    (restart, failover, pg_terminate_backend, KILL, an idle reaper) is marked closed within
    moments, long before anyone sends a statement on it.
    """
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if callable(is_closed):  # asyncpg
        return bool(is_closed())
    broken = getattr(driver, "_stream_broken", None)  # asyncmy
    if isinstance(broken, bool):
        return broken
    return False


_COUNTED = "students.counted"


def _check_out_live_connections(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _known_closed(dbapi_connection):
            # The pool discards this one and hands out another (or connects anew), up to three
            # times, before the checkout fails.
            raise DisconnectionError("the server closed this connection")
        record.record_info[_COUNTED] = True
        DB_POOL_IN_USE.inc()

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # The pool also checks in a slot whose reconnect failed, which was never checked out:
        # only what was counted out is counted back, or the gauge would drift below zero.
        if record.record_info.pop(_COUNTED, False):
            DB_POOL_IN_USE.dec()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        # Take the write lock up front: a deferred transaction that reads and then writes fails at
        # once with SQLITE_BUSY when another writer got there first, instead of waiting its turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_FILE = "students.sqlite_file"


def _identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _follow_the_file(engine: AsyncEngine, path: str) -> None:
    """Hand out only connections to the file that is at ``path`` now.

    A connection keeps the file it opened: one deleted (or replaced by a restore) under a running
    service would keep taking writes, answered 201, into a file nobody will open again, while a
    process started since opens what is at the path. So each connection remembers the file it
    opened, and one whose file is no longer at the path is discarded at checkout (a stat, some
    microseconds): the pool opens the path anew, a restored file, or an empty one, which has no
    schema (503 until migrated) rather than writes that vanish.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_FILE] = _identity(path)

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _identity(path) != record.info.get(_FILE):
            raise DisconnectionError(f"{path} is no longer the file this connection opened")


async def dispose_within(engine: AsyncEngine, seconds: float) -> None:
    """Close the pool's connections, but give up after ``seconds``: a database that went silent
    would hold a stopping process for ever (asyncpg's close waits for the server's goodbye)."""
    try:
        async with asyncio.timeout(seconds):
            await engine.dispose()
    except TimeoutError:
        logger.warning("closing the database connections took over %g s; left to the system", seconds)


async def dispose_on_shutdown(engine: AsyncEngine, closing_within: float) -> AsyncIterator[AsyncEngine]:
    """A dependency-injector resource: the engine lives as long as the app and is disposed after."""
    try:
        yield engine
    finally:
        await dispose_within(engine, closing_within)
