"""PostgreSQL's connections for the driver path: asyncpg connections kept on a plain stack.

The fair queue in front of it (gate.py) already decides who may hold a connection, in what order
and for how long one may wait, so a pool behind it has little left to do: hand out an idle
connection that is still alive and not too old, or open one; take it back, or close it if it
was broken. A checkout and return costs about 19,000 instructions, gauge included, where
SQLAlchemy's pool behind its greenlet bridge cost 127,000 and asyncpg's own pool 108,000
(callgrind, ``python -m bench.pool_instructions``; bench/results/*-pool-instructions.md).

What SQLAlchemy's pool did for the service, this one does too: a connection the server closed
is noticed for free when it is handed out (asyncpg reads its socket all the time) and replaced;
one older than ``recycle`` seconds is replaced; ``pre_ping`` sends a round trip first;
connecting is bounded by asyncpg's ``timeout``; the in-use gauge is kept; :meth:`dispose`
closes everything, within a bound, when the process stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from infrastructure.observability.metrics import DB_POOL_IN_USE

Connect = Callable[[], Awaitable[Any]]


class PgPool:
    def __init__(
        self, connect: Connect, *, size: int, recycle: float | None = None, pre_ping: bool = False
    ) -> None:
        self._connect = connect
        self._size = size
        self._recycle = recycle if recycle is not None and recycle > 0 else None
        self._pre_ping = pre_ping
        # Idle connections and when each was opened, the most recently used on top.
        self._idle: list[tuple[Any, float]] = []
        # id of a lent connection -> (when it was opened, the pool's generation when lent).
        self._lent: dict[int, tuple[float, int]] = {}
        self._in_use = 0
        # Bumped by dispose(): what was lent before is closed when it comes back.
        self._generation = 0
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def acquire(self) -> Any:
        """A live connection: an idle one, or a new one (whose errors are the caller's to map)."""
        while self._idle:
            connection, opened_at = self._idle.pop()
            if connection.is_closed() or self._too_old(opened_at):
                self._close_soon(connection)
                continue
            if self._pre_ping and not await self._answers(connection):
                self._close_soon(connection)
                continue
            return self._lend(connection, opened_at)
        connection = await self._connect()
        return self._lend(connection, time.monotonic())

    def release(self, connection: Any, *, broken: bool = False) -> None:
        """Take ``connection`` back; one that is ``broken``, closed, mid-transaction, over the
        pool's size, or lent before the last :meth:`dispose`, is closed instead of kept."""
        self._in_use -= 1
        DB_POOL_IN_USE.dec()
        opened_at, generation = self._lent.pop(id(connection), (time.monotonic(), -1))
        stale = generation != self._generation
        keep = not (broken or stale or connection.is_closed() or _unfinished(connection))
        if keep and len(self._idle) < self._size:
            self._idle.append((connection, opened_at))
        else:
            self._close_soon(connection)

    async def dispose(self) -> None:
        """Close the idle connections; those in use are closed as they come back. The pool stays
        usable and opens new ones (as SQLAlchemy's engine does after ``dispose()``): an app
        whose lifespan is run again, on another event loop, gets connections of that loop."""
        self._generation += 1
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._close(connection) for connection, _ in idle), *self._closing)

    def _lend(self, connection: Any, opened_at: float) -> Any:
        self._lent[id(connection)] = (opened_at, self._generation)
        self._in_use += 1
        DB_POOL_IN_USE.inc()
        return connection

    def _too_old(self, opened_at: float) -> bool:
        return self._recycle is not None and time.monotonic() - opened_at > self._recycle

    async def _answers(self, connection: Any) -> bool:
        try:
            await connection.fetchrow(";")
        except Exception:
            return False
        except BaseException:
            # Cancelled while pinging: the connection is nobody's now; close it, then go on.
            connection.terminate()
            raise
        return True

    def _close_soon(self, connection: Any) -> None:
        if connection.is_closed():
            return
        task = asyncio.get_running_loop().create_task(self._close(connection))
        self._closing.add(task)  # kept until done: a task nobody holds may be collected midway
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(connection: Any) -> None:
        # A polite close waits for the server's goodbye; a server gone silent gets cut off.
        try:
            await asyncio.wait_for(connection.close(), timeout=2)
        except Exception:
            with contextlib.suppress(Exception):
                connection.terminate()


def _unfinished(connection: Any) -> bool:
    """In a transaction, by the server's word or by asyncpg's own record (private), which a BEGIN
    whose answer never came (a cancelled one) leaves set before the server has said anything."""
    return bool(connection.is_in_transaction()) or getattr(connection, "_top_xact", None) is not None
