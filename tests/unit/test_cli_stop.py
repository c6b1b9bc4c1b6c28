"""How a command of the CLI takes SIGTERM and SIGINT while it runs (interfaces/cli.py, _Stop)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest

from interfaces.cli import _Stop


@pytest.fixture
async def handlers() -> AsyncIterator[None]:
    yield
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    signal.signal(signal.SIGINT, signal.default_int_handler)


async def _signalled(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)
    await asyncio.sleep(0.05)  # the loop runs the handler


async def test_a_graceful_command_is_told_of_the_first_signal_and_cancelled_by_the_second(
    handlers: None,
) -> None:
    stop = _Stop(graceful=True)
    told = asyncio.Event()

    async def work() -> None:
        stop.listen()
        await _signalled(signal.SIGINT)
        assert stop.requested() is signal.SIGINT  # told, not cancelled
        told.set()
        await _signalled(signal.SIGTERM)
        await asyncio.sleep(5)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(work())
    assert told.is_set()
    assert stop.signal is signal.SIGINT  # the first names the stop


async def test_any_other_command_is_cancelled_by_sigterm_and_not_once_its_work_is_done(
    handlers: None,
) -> None:
    stop = _Stop()

    async def work() -> None:
        stop.listen()
        await _signalled(signal.SIGTERM)
        await asyncio.sleep(5)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(work())
    assert stop.requested() is signal.SIGTERM

    finished = _Stop()

    async def closing() -> str:
        finished.listen()
        finished.finished = True
        await _signalled(signal.SIGTERM)
        return "closed"

    assert await asyncio.create_task(closing()) == "closed"
