"""What every unit of work of a process shares: the engine, the queue before its pool, the limits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.settings import Settings
from infrastructure.sqlalchemy.driver import DriverStatements
from infrastructure.sqlalchemy.gate import ConnectionGate
from infrastructure.sqlalchemy.pg_pool import PgPool

logger = logging.getLogger(__name__)

# Options of SQLAlchemy's asyncpg dialect that asyncpg.connect() itself does not take.
_DIALECT_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn")


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    # The fair queue for the pool's connections (gate.py); None: straight to the pool.
    gate: ConnectionGate | None = None
    # Seconds a statement may go unanswered before it is abandoned (session.py); None: no limit.
    statement_timeout: float | None = None
    # PostgreSQL on asyncpg: run the compiled statements on asyncpg's own connections (driver.py,
    # pg_pool.py, driver_session.py) rather than through SQLAlchemy's execution and pool.
    driver_statements: bool = True
    # For the driver path's own pool: seconds to connect, and when to replace a connection.
    connect_timeout: float = 10.0
    pool_recycle: float | None = None
    pre_ping: bool = False
    driver: DriverStatements | None = field(init=False, default=None)
    pool: PgPool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        dialect = self.engine.dialect
        if not (self.driver_statements and dialect.name == "postgresql" and dialect.driver == "asyncpg"):
            return
        object.__setattr__(self, "driver", DriverStatements(dialect))
        size = getattr(self.engine.sync_engine.pool, "size", lambda: 5)()
        pool = PgPool(self._asyncpg_connect(), size=size, recycle=self.pool_recycle, pre_ping=self.pre_ping)
        object.__setattr__(self, "pool", pool)

    def _asyncpg_connect(self) -> Any:
        import asyncpg

        _, options = self.engine.dialect.create_connect_args(self.engine.url)
        cache_size = options.get("prepared_statement_cache_size")
        for name in _DIALECT_ONLY:
            options.pop(name, None)
        if cache_size is not None:
            # SQLAlchemy's statement cache is asyncpg's here: ?prepared_statement_cache_size=0
            # (what a pgbouncer in transaction mode needs) turns asyncpg's off.
            options["statement_cache_size"] = int(cache_size)
        options["timeout"] = self.connect_timeout
        if self.statement_timeout is not None:
            options["command_timeout"] = self.statement_timeout

        async def connect() -> Any:
            return await asyncpg.connect(**options)

        return connect

    async def dispose(self) -> None:
        """Close the driver path's connections (the engine's are the engine's to close)."""
        if self.pool is not None:
            await self.pool.dispose()


async def close_on_shutdown(database: Database, closing_within: float) -> AsyncIterator[Database]:
    """A dependency-injector resource: the database's own connections are closed after the app,
    within ``closing_within`` seconds (a database gone silent must not hold a stopping process)."""
    try:
        yield database
    finally:
        try:
            async with asyncio.timeout(closing_within):
                await database.dispose()
        except TimeoutError:
            logger.warning(
                "closing the database connections took over %g s; left to the system", closing_within
            )


def database_for(engine: AsyncEngine, settings: Settings, gate: ConnectionGate | None = None) -> Database:
    """The Database the settings describe, for the container and the command line alike."""
    return Database(
        engine,
        gate=gate,
        statement_timeout=settings.db_statement_timeout,
        driver_statements=settings.db_driver_statements,
        connect_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pre_ping=settings.db_pool_pre_ping,
    )
