"""Background chores a server process runs while it lives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def every(interval: float, chore: Callable[[], Awaitable[int]], name: str) -> None:
    """Run ``chore`` every ``interval`` seconds until cancelled; a failure is logged, not fatal.

    Each server process runs its own loop: the chores are idempotent deletes, so several
    processes doing them at once is harmless, and nothing depends on one process being alive.
    """
    while True:
        await asyncio.sleep(interval)
        try:
            done = await chore()
        except Exception:
            logger.exception("%s failed; will try again in %s s", name, interval)
        else:
            if done:
                logger.info("%s: %d removed", name, done)
