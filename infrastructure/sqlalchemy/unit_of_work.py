"""UnitOfWork on one SQLAlchemy connection: one transaction per ``async with``, always released."""

from __future__ import annotations

from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from application.errors import Overloaded
from application.ports import UnitOfWork
from infrastructure.observability.metrics import DB_POOL_WAITING, record_student_changes
from infrastructure.sqlalchemy.gate import ConnectionGate
from infrastructure.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore
from infrastructure.sqlalchemy.repository import SqlAlchemyStudentRepository

# Where switching a pooled connection to autocommit and back costs no round trip (asyncpg and
# sqlite3 flip a flag in the client), a read is one statement instead of BEGIN, SELECT, ROLLBACK;
# on SQLite it also avoids taking the write lock. asyncmy sends SET autocommit both ways, which
# measured slower than the implicit transaction (MariaDB get-by-id: 1336 us vs 777 us).
_CHEAP_AUTOCOMMIT = frozenset({"postgresql", "sqlite"})


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Holds a pooled connection for the length of one use-case call.

    ``read_only`` units never commit and, where it is cheap, run in autocommit mode. The
    container decides which use-cases get one.
    """

    def __init__(
        self, engine: AsyncEngine, *, read_only: bool = False, gate: ConnectionGate | None = None
    ) -> None:
        self._engine = engine
        self._read_only = read_only
        self._gate = gate
        self._connection: AsyncConnection | None = None

    async def _begin(self) -> None:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in use")
        with DB_POOL_WAITING.track_inprogress():
            if self._gate is not None:
                await self._gate.enter()
            try:
                connection = await self._engine.connect()
            except PoolTimeout:
                self._leave_gate()
                raise Overloaded() from None
            except BaseException:
                self._leave_gate()
                raise
        try:
            if self._read_only:
                if self._engine.dialect.name in _CHEAP_AUTOCOMMIT:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                # Elsewhere (MariaDB/MySQL) the first SELECT opens a transaction implicitly and
                # returning the connection to the pool rolls it back.
            else:
                await connection.begin()
        except BaseException:
            await connection.close()
            self._leave_gate()
            raise
        self._connection = connection
        self.students = self._students = SqlAlchemyStudentRepository(connection)
        self.idempotency = SqlAlchemyIdempotencyStore(connection)

    async def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit outside of the unit of work's block")
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        await self._connection.commit()
        changes = self._students.changes
        record_student_changes(changes.created, changes.updated, changes.deleted)
        changes.clear()

    async def rollback(self) -> None:
        # In autocommit mode there is nothing to roll back; closing the connection resets it.
        if not self._read_only and self._connection is not None and self._connection.in_transaction():
            await self._connection.rollback()
            self._students.changes.clear()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            finally:
                self._leave_gate()

    def _leave_gate(self) -> None:
        if self._gate is not None:
            self._gate.leave()
