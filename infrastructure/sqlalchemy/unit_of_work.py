"""UnitOfWork on one SQLAlchemy connection: one transaction per ``async with``, always released."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from application.ports import UnitOfWork
from infrastructure.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore
from infrastructure.sqlalchemy.repository import SqlAlchemyStudentRepository


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Holds a pooled connection for the length of one use-case call.

    ``read_only`` units run in autocommit mode: a single SELECT needs no BEGIN/ROLLBACK round
    trips. The container decides which use-cases get one.
    """

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._connection: AsyncConnection | None = None

    async def _begin(self) -> None:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in use")
        connection = await self._engine.connect()
        try:
            if self._read_only:
                # Per connection, measured faster than an autocommit Engine.execution_options()
                # copy (the copy re-applies and resets the level through more machinery).
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            else:
                await connection.begin()
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        self.students = SqlAlchemyStudentRepository(connection)
        self.idempotency = SqlAlchemyIdempotencyStore(connection)

    async def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit outside of the unit of work's block")
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        await self._connection.commit()

    async def rollback(self) -> None:
        # In autocommit mode there is nothing to roll back; closing the connection resets it.
        if not self._read_only and self._connection is not None and self._connection.in_transaction():
            await self._connection.rollback()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
