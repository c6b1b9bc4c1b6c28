"""UnitOfWork on one SQLAlchemy connection: one transaction per ``async with``, always released."""

from __future__ import annotations

from application.events import NO_HANDLERS, EventBus
from application.ports import UnitOfWork
from infrastructure.sqlalchemy.database import Database
from infrastructure.sqlalchemy.driver_session import DriverSession
from infrastructure.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore
from infrastructure.sqlalchemy.repository import SqlAlchemyStudentRepository
from infrastructure.sqlalchemy.session import Session


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Holds a pooled connection (through a :class:`Session`) for the length of one use-case call.

    ``read_only`` units never commit and, where it is cheap, run in autocommit mode. The
    container decides which use-cases get one.
    """

    def __init__(
        self, database: Database, *, read_only: bool = False, event_bus: EventBus = NO_HANDLERS
    ) -> None:
        self._database = database
        self.event_bus = event_bus
        self._read_only = read_only
        self._session: Session | DriverSession | None = None

    async def _begin(self) -> None:
        if self._session is not None:
            raise RuntimeError("this unit of work is already in use")
        session: Session | DriverSession = (
            DriverSession(self._database, read_only=self._read_only)
            if self._database.pool is not None
            else Session(self._database, read_only=self._read_only)
        )
        await session.open()
        self._session = session
        self.students = SqlAlchemyStudentRepository(session)
        self.idempotency = SqlAlchemyIdempotencyStore(session)

    async def _commit(self) -> None:
        if self._session is None:
            raise RuntimeError("commit outside of the unit of work's block")
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        await self._session.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()
            self.students.forget()

    async def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
