"""The in-process token bucket: a burst at once, then the rate, and each key on its own."""

from __future__ import annotations

import asyncio

import pytest

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


async def test_a_redis_that_never_answers_holds_no_request_and_each_process_counts_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Found by an attack: a Redis that accepts and never replies hung every request.
    held: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        budget = Budget(
            "caller", rate=0.01, burst=2, storage_url=f"redis://127.0.0.1:{port}/0", storage_timeout=0.1
        )
        async with asyncio.timeout(5):  # a hang fails here, not at the suite's end
            verdicts = [await budget.take("alice") for _ in range(3)]
        # The process's own bucket counted meanwhile: the third request is refused.
        assert [v.allowed for v in verdicts] == [True, True, False]
        assert [v.remaining for v in verdicts] == [1, 0, 0]
        assert any("counted by each process alone" in r.getMessage() for r in caplog.records)
    finally:
        server.close()
        for writer in held:
            writer.close()
