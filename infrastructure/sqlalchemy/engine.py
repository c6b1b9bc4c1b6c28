"""Building the async engine from settings, with the per-backend connection set-up in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from infrastructure.observability.metrics import DB_POOL_IN_USE
from infrastructure.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 5000


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
        if url.database in (None, "", ":memory:"):
            # One shared connection, or every checkout would see its own empty database.
            options["poolclass"] = StaticPool
        else:
            options |= pool
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        options |= pool
    engine = create_async_engine(url, **options)
    if _is_sqlite(url):
        _configure_sqlite(engine)
    _count_checkouts(engine)
    return engine


def _count_checkouts(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(*_: Any) -> None:
        DB_POOL_IN_USE.inc()

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(*_: Any) -> None:
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


async def dispose_on_shutdown(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """A dependency-injector resource: the engine lives as long as the app and is disposed after."""
    try:
        yield engine
    finally:
        await engine.dispose()
