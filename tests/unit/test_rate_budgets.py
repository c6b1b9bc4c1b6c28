"""The in-process token bucket: a burst at once, then the rate, and each key on its own."""

from __future__ import annotations

import asyncio

from infrastructure.rate_limits import Budget


async def test_a_burst_then_one_token_per_refill() -> None:
    budget = Budget("caller", rate=200, burst=2)
    verdicts = [await budget.take("alice") for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[2].retry_after == 1
    assert (await budget.take("bob")).allowed
    await asyncio.sleep(0.02)  # 200 a second: some four tokens back, but never past the burst
    assert [(await budget.take("alice")).allowed for _ in range(3)] == [True, True, False]


async def test_the_window_it_reports_is_burst_over_rate() -> None:
    budget = Budget("address", rate=100, burst=200)
    assert (budget.limit, budget.window) == (200, 2)
