"""What every unit of work of a process shares: the engine, the queue before its pool, the limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.sqlalchemy.driver import DriverStatements
from infrastructure.sqlalchemy.gate import ConnectionGate


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    # The fair queue for the pool's connections (gate.py); None: straight to the pool.
    gate: ConnectionGate | None = None
    # Seconds a statement may go unanswered before it is abandoned (session.py); None: no limit.
    statement_timeout: float | None = None
    # Run compiled statements on the driver's connection where it can (driver.py): asyncpg only.
    driver_statements: bool = True
    driver: DriverStatements | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        dialect = self.engine.dialect
        if self.driver_statements and dialect.name == "postgresql" and dialect.driver == "asyncpg":
            object.__setattr__(self, "driver", DriverStatements(dialect))
