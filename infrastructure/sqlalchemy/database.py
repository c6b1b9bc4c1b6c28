"""What every unit of work of a process shares: the engine, the queue before its pool, the limits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.sqlalchemy.gate import ConnectionGate


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    # The fair queue for the pool's connections (gate.py); None: straight to the pool.
    gate: ConnectionGate | None = None
    # Seconds a statement may go unanswered before it is abandoned (session.py); None: no limit.
    statement_timeout: float | None = None
