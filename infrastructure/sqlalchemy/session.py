"""One unit of work's hold on a database connection: open it, run every statement, end it.

Everything that can go wrong between the service and its database is handled here, once, for
every repository and store that runs statements:

- A connection the database has closed is noticed when it leaves the pool, for free (see
  engine.py), and replaced before any statement is sent on it.
- When a statement still finds its connection dead, it runs again, once, on a fresh connection,
  but only where nothing could run twice: the first statement of any unit of work (its
  transaction never reached COMMIT), or any statement of a read-only one.
- A statement that gets no answer within ``statement_timeout`` is abandoned and its connection
  discarded: a black-holed network would otherwise hold the request for minutes. (asyncpg keeps
  the time itself; elsewhere the session does.)
- What cannot be helped becomes an application error (faults.py): 503 for the client, one line
  in the log, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.util.typing import TupleAny, Unpack

from application.errors import Overloaded
from infrastructure.observability.metrics import DB_POOL_WAITING
from infrastructure.sqlalchemy.database import Database
from infrastructure.sqlalchemy.driver import translate_driver_error
from infrastructure.sqlalchemy.faults import outage, report
from infrastructure.sqlalchemy.gate import ConnectionGate

T = TypeVar("T")

# Where switching a pooled connection to autocommit and back costs no round trip (asyncpg and
# sqlite3 flip a flag in the client), a read is one statement instead of BEGIN, SELECT, ROLLBACK;
# on SQLite it also avoids taking the write lock. asyncmy sends SET autocommit both ways, which
# measured slower than the implicit transaction (MariaDB get-by-id: 1336 us vs 777 us).
_CHEAP_AUTOCOMMIT = frozenset({"postgresql", "sqlite"})
# Where the session needs no timer of its own: asyncpg times every statement out itself (its
# command_timeout, engine.py); a file on this machine does not stall like a network does, and
# SQLite's lock waits are bounded by its own busy timeout.
_TIMED_ELSEWHERE = frozenset({"postgresql", "sqlite"})


class Statements(Protocol):
    """What the stores need of a session: run a statement (Session here; DriverSession on the
    driver path) and say which database it speaks to."""

    dialect_name: str

    async def execute(self, statement: Executable, parameters: Any = None) -> Any:
        """Run ``statement`` with a dict of values, or once per dict of a list of them."""
        ...

    async def copy_records(
        self, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
    ) -> None:
        """PostgreSQL only: COPY ``records`` into ``table`` of the unit of work's transaction,
        which an earlier statement has begun."""
        ...


class Session:
    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._engine = engine = database.engine
        self._read_only = read_only
        self._gate = database.gate
        self.dialect_name = engine.dialect.name
        self._timeout = None if self.dialect_name in _TIMED_ELSEWHERE else database.statement_timeout
        self._connection: AsyncConnection | None = None
        self._in_gate = False
        self._retries = 1
        # Until a statement of a writing unit has succeeded, nothing of it can have been kept.
        self._sent_nothing = True

    async def open(self) -> None:
        if self._connection is not None:
            raise RuntimeError("this session is already open")
        self._connection = await through_gate(self._gate, self._connect)
        self._in_gate = self._gate is not None

    async def _connect(self) -> AsyncConnection:
        try:
            connection = await self._engine.connect()
        except PoolTimeout:
            raise Overloaded() from None
        except Exception as exc:
            raise_outage(exc, connecting=True)
            raise
        try:
            if not self._read_only:
                await connection.begin()
            elif self.dialect_name in _CHEAP_AUTOCOMMIT:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            # Elsewhere (MariaDB/MySQL) the first SELECT opens a transaction implicitly and
            # returning the connection to the pool rolls it back.
        except BaseException as exc:
            await connection.close()
            if isinstance(exc, Exception):
                # SQLite's BEGIN IMMEDIATE waits its busy timeout for another writer (a long
                # import, say), then says "database is locked": 503, never a 500.
                raise_outage(exc)
            raise
        return connection

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Unpack[TupleAny]]:
        connection = self._open_connection()
        try:
            result = await self._bounded(connection.execute(statement, parameters))
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                # Its protocol state is unknown (a reply may still be on its way): never reuse it.
                await self._discard(connection)
            if self._may_run_again(exc):
                self._retries -= 1
                await self._reconnect()
                return await self.execute(statement, parameters)
            raise_outage(exc)
            raise
        self._sent_nothing = False
        return result

    async def copy_records(
        self, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
    ) -> None:
        if self.dialect_name != "postgresql":
            raise RuntimeError(f"COPY is PostgreSQL's; {self.dialect_name} takes INSERTs")
        connection = self._open_connection()
        raw = await connection.get_raw_connection()
        # asyncpg's own connection, inside the transaction SQLAlchemy's adapter began on it.
        driver: Any = raw.driver_connection
        try:
            await driver.copy_records_to_table(table, columns=list(columns), records=records)
        except Exception as exc:
            translated = translate_driver_error(self._engine.dialect, exc, driver, f"COPY {table}")
            if isinstance(translated, DBAPIError) and translated.connection_invalidated:
                await self._discard(connection)
            raise_outage(translated)
            raise translated from None
        self._sent_nothing = False

    def _may_run_again(self, exc: Exception) -> bool:
        return may_run_again(exc, self._retries, read_only=self._read_only, sent_nothing=self._sent_nothing)

    async def _reconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
        self._connection = await self._connect()

    async def _bounded(self, operation: Awaitable[T]) -> T:
        """``operation`` within the statement timeout, where the driver keeps none of its own."""
        if self._timeout is None:
            return await operation
        async with asyncio.timeout(self._timeout):
            return await operation

    async def commit(self) -> None:
        connection = self._open_connection()
        try:
            await self._bounded(connection.commit())
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                await self._discard(connection)
            raise_outage(exc, committing=True)
            raise

    async def rollback(self) -> None:
        """Discard the transaction. On a connection that is gone there is nothing to discard (the
        server ended the transaction with it), and no error may hide the one being handled."""
        connection = self._connection
        if self._read_only or connection is None or not connection.in_transaction():
            return
        try:
            await self._bounded(connection.rollback())
        except Exception as exc:
            if outage(exc) is None:
                raise
            await self._discard(connection)

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        try:
            if connection is not None:
                # Returning it to the pool rolls back what is left: bounded too, on MariaDB/MySQL.
                await self._bounded(connection.close())
        except Exception as exc:
            if outage(exc) is None:
                raise
            if connection is not None:
                await self._discard(connection)
        finally:
            self._leave_gate()

    def _open_connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work's block has not begun or has ended")
        return self._connection

    @staticmethod
    async def _discard(connection: AsyncConnection) -> None:
        with contextlib.suppress(Exception):
            await connection.invalidate()

    def _leave_gate(self) -> None:
        if self._in_gate and self._gate is not None:
            self._in_gate = False
            self._gate.leave()


async def through_gate(gate: ConnectionGate | None, connect: Callable[[], Awaitable[T]]) -> T:
    """A connection from ``connect``, once ``gate`` lets the caller through (in its turn, or 503);
    the permit is given back if no connection comes. The caller gives it back after the work."""
    with DB_POOL_WAITING.track_inprogress():
        if gate is not None:
            await gate.enter()
        try:
            return await connect()
        except BaseException:
            if gate is not None:
                gate.leave()
            raise


def may_run_again(exc: Exception, retries: int, *, read_only: bool, sent_nothing: bool) -> bool:
    """The retry rule: a dead connection, a retry left, and nothing that could run twice."""
    dead = isinstance(exc, DBAPIError) and exc.connection_invalidated
    return dead and retries > 0 and (read_only or sent_nothing)


def raise_outage(exc: Exception, *, connecting: bool = False, committing: bool = False) -> None:
    """Raise the application error ``exc`` amounts to, if it is an outage (faults.py); else return."""
    translated = outage(exc, connecting=connecting, committing=committing)
    if translated is not None:
        report(exc, translated)
        raise translated from None
