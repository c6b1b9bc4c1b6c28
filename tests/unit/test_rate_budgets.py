"""The in-process token bucket: a burst at once, then the rate, and each key on its own."""

from __future__ import annotations

import asyncio

import pytest

from infrastructure.rate_limits import Budget, Verdict


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


async def test_after_a_failure_one_request_at_a_time_asks_whether_the_storage_is_back() -> None:
    # Found by an attack: every request arriving during the retry waited out the timeout.
    budget = Budget("caller", rate=100, burst=100, storage_url="redis://127.0.0.1:9/0", storage_timeout=0.1)
    asked = 0
    real = budget._take_shared

    async def counted(key: str) -> Verdict | None:
        nonlocal asked
        asked += 1
        await asyncio.sleep(0.05)  # a storage that is slow to fail
        return await real(key)

    budget._take_shared = counted  # type: ignore[method-assign]
    await budget.take("alice")  # fails: port 9 refuses
    assert asked == 1
    budget._shared_again_at = 0  # the back-off is over
    verdicts = await asyncio.gather(*(budget.take("alice") for _ in range(20)))
    assert asked == 2  # one probe; the other nineteen counted here meanwhile
    assert all(v.allowed for v in verdicts)
