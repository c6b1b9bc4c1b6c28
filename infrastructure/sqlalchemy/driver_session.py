"""A unit of work's hold on a PostgreSQL connection on the driver path: the same rules, less code.

The promises of session.py hold here unchanged (the same fair queue, a dead connection replaced
before anything is sent on it, one retry where nothing could run twice, outages as 503s through
faults.py); what differs is whose code keeps them. The connection is asyncpg's, from pg_pool.py;
statements are SQLAlchemy's, compiled once (driver.py); the transaction is asyncpg's, begun at
the first statement of a writing unit of work, so that a read is one round trip and a write
is BEGIN, its statements and COMMIT.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from infrastructure.sqlalchemy.database import Database
from infrastructure.sqlalchemy.driver import DriverStatements, Rows
from infrastructure.sqlalchemy.pg_pool import PgPool
from infrastructure.sqlalchemy.session import may_run_again, raise_outage, through_gate


class DriverSession:
    dialect_name = "postgresql"

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        if database.pool is None or database.driver is None:
            raise RuntimeError("the driver path is for PostgreSQL on asyncpg (database.py)")
        self._pool: PgPool = database.pool
        self._driver: DriverStatements = database.driver
        self._gate = database.gate
        self._read_only = read_only
        self._connection: Any = None
        self._transaction: Any = None
        self._broken = False
        self._in_gate = False
        self._retries = 1
        # Until a statement of a writing unit has succeeded, nothing of it can have been kept.
        self._sent_nothing = True

    async def open(self) -> None:
        if self._connection is not None:
            raise RuntimeError("this session is already open")
        self._connection = await through_gate(self._gate, self._connect)
        self._in_gate = self._gate is not None

    async def _connect(self) -> Any:
        try:
            return await self._pool.acquire()
        except Exception as exc:
            raise_outage(self._driver.translate(exc, None), connecting=True)
            raise

    async def execute(self, statement: Executable, parameters: Any = None) -> Rows:
        plan = self._driver.plan(statement, parameters[0] if isinstance(parameters, list) else parameters)
        if plan is None:
            raise RuntimeError(
                "this statement cannot run on the driver path: bind every value by name "
                "(sa.bindparam) and select only columns asyncpg decodes plainly (driver.py)"
            )
        connection = self._open_connection()
        try:
            await self._begin(connection)
            result = await self._driver.run(connection, plan, parameters)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                # Cancelled mid-statement (or mid-BEGIN): the server may be acting on what was
                # sent and its reply is still on the way. Nobody may use this connection again.
                self._discard()
                raise
            if isinstance(exc, TimeoutError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
                # Gone, or in a state nobody knows (a reply may still be on its way): never reused.
                self._discard()
            if self._may_run_again(exc):
                self._retries -= 1
                await self._reconnect()
                return await self.execute(statement, parameters)
            raise_outage(exc)
            raise
        self._sent_nothing = False
        return result

    async def _begin(self, connection: Any) -> None:
        """Begin the transaction of a writing unit of work, at its first statement."""
        if self._read_only or self._transaction is not None:
            return
        transaction = connection.transaction()
        try:
            await transaction.start()
        except Exception as exc:
            # asyncpg may still count the failed BEGIN as its transaction: never reuse.
            self._discard()
            raise self._driver.translate(exc, connection, "BEGIN") from None
        self._transaction = transaction

    async def copy_records(
        self, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
    ) -> None:
        """COPY ``records`` into ``table`` (asyncpg's binary COPY), in this unit's transaction.
        Never run again on a fresh connection: the transaction it belongs to is under way."""
        connection = self._open_connection()
        try:
            await self._begin(connection)
            await connection.copy_records_to_table(table, columns=list(columns), records=records)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                self._discard()  # cancelled mid-COPY: the connection's state is unknown
                raise
            translated = self._driver.translate(exc, connection, f"COPY {table}")
            if isinstance(translated, TimeoutError) or (
                isinstance(translated, DBAPIError) and translated.connection_invalidated
            ):
                self._discard()
            raise_outage(translated)
            raise translated from None
        self._sent_nothing = False

    def _may_run_again(self, exc: Exception) -> bool:
        return may_run_again(exc, self._retries, read_only=self._read_only, sent_nothing=self._sent_nothing)

    async def _reconnect(self) -> None:
        self._give_back()
        self._connection = await self._connect()

    async def commit(self) -> None:
        connection = self._open_connection()
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            return
        try:
            await transaction.commit()
        except BaseException as exc:
            if not isinstance(exc, Exception):
                self._discard()  # cancelled: whether the COMMIT was carried out is unknown
                raise
            translated = self._driver.translate(exc, connection, "COMMIT")
            if isinstance(exc, TimeoutError) or connection.is_closed():
                self._discard()
            raise_outage(translated, committing=True)
            raise translated from None

    async def rollback(self) -> None:
        """Discard the transaction. On a connection that is gone there is nothing to discard (the
        server ended the transaction with it), and no error may hide the one being handled."""
        transaction, self._transaction = self._transaction, None
        if transaction is None or self._connection is None or self._connection.is_closed():
            return
        try:
            await transaction.rollback()
        except BaseException:
            # Whatever stopped the ROLLBACK (a connection gone, or busy with a statement that was
            # cancelled), closing the connection ends the transaction on the server all the same.
            self._discard()

    async def close(self) -> None:
        try:
            await self.rollback()
        finally:
            self._give_back()
            self._leave_gate()

    def _open_connection(self) -> Any:
        if self._connection is None:
            raise RuntimeError("the unit of work's block has not begun or has ended")
        return self._connection

    def _discard(self) -> None:
        self._broken = True
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.terminate()

    def _give_back(self) -> None:
        connection, self._connection = self._connection, None
        self._transaction = None
        if connection is not None:
            self._pool.release(connection, broken=self._broken)
        self._broken = False

    def _leave_gate(self) -> None:
        if self._in_gate and self._gate is not None:
            self._in_gate = False
            self._gate.leave()
