"""The fair queue in front of the connection pool: order, timeout, and permits always returned."""

from __future__ import annotations

import asyncio

import pytest

from application.errors import Overloaded
from infrastructure.sqlalchemy.gate import ConnectionGate


async def test_waiters_get_in_in_the_order_they_came() -> None:
    gate = ConnectionGate(permits=1, timeout=5)
    await gate.enter()
    order: list[str] = []

    async def use(name: str) -> None:
        await gate.enter()
        order.append(name)
        await asyncio.sleep(0)
        gate.leave()

    first = [asyncio.create_task(use(f"waiter {i}")) for i in range(3)]
    await asyncio.sleep(0)
    gate.leave()
    late = asyncio.create_task(use("late"))  # arrives while others still wait: goes last
    await asyncio.gather(*first, late)
    assert order == ["waiter 0", "waiter 1", "waiter 2", "late"]


async def test_no_permit_within_the_timeout_is_overloaded() -> None:
    gate = ConnectionGate(permits=1, timeout=0.01)
    await gate.enter()
    with pytest.raises(Overloaded):
        await gate.enter()
    gate.leave()
    await gate.enter()  # the timed-out waiter took nothing with it
