"""Request budgets per caller: a token bucket in this process, or limits' counter in Redis.

A budget is a rate with a burst: ``burst`` requests at once, ``rate`` a second over time.

- In this process (the default) it is a token bucket: ``burst`` tokens, refilled at ``rate`` a
  second, one spent per request. Kept here, in a dict, because it is a few lines and costs some
  3,000 instructions a request, where the ``limits`` library's in-memory storage measured at
  70,000 (fixed window) to 100,000 (sliding window counter) per request, twice a request.
- With ``RATE_LIMIT_STORAGE_URL`` set (``redis://host:port/db``) every process using that Redis
  draws from one budget per caller, kept by the ``limits`` library as a fixed window of
  ``burst`` requests per ``burst / rate`` seconds (whole seconds, as limits counts them): the
  same average, but a caller may spend two bursts across the end of one window and the start
  of the next. A Redis round trip is the cost of sharing.

A storage that fails or does not answer within ``storage_timeout`` (Redis gone, or hung) is left
alone for ``_RETRY_SHARED_AFTER`` seconds, with a warning at most once a minute, and each process
keeps its own token bucket meanwhile: a limit is protection, and an outage of it must not become
an outage of the service, nor leave it unprotected.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)
_WARN_EVERY = 60.0
# Callers one process keeps a bucket for before it drops the full ones (memory stays bounded).
_MAX_KEYS = 100_000
# After a failure of the shared storage, how long this process counts on its own before asking again.
_RETRY_SHARED_AFTER = 5.0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int  # requests a window allows
    window: int  # seconds
    remaining: int
    retry_after: int  # seconds until a request may succeed again (when not allowed)
    reset: int = 0  # seconds until the budget is whole again (in Redis: at most, the window)


class Budget:
    """One kind of budget (per caller, per address), under its own name in the storage."""

    def __init__(
        self,
        name: str,
        *,
        rate: float,
        burst: int,
        storage_url: str | None = None,
        storage_timeout: float = 0.25,
    ) -> None:
        self.name = name
        self._rate = rate
        self._burst = burst
        self.limit = burst
        self.window = max(1, math.ceil(burst / rate))
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._shared: Any = None
        if storage_url:
            from limits import RateLimitItemPerSecond
            from limits.aio.strategies import FixedWindowRateLimiter
            from limits.storage import storage_from_string

            self._item = RateLimitItemPerSecond(burst, self.window)
            storage = storage_from_string(f"async+{storage_url}", key_prefix="students")
            self._shared = FixedWindowRateLimiter(storage)
        self._timeout = storage_timeout
        self._shared_again_at = -math.inf  # while monotonic() is below it, the shared storage is not asked
        # After a failure one request at a time asks the storage whether it is back; the others
        # meanwhile count here, rather than each wait out the timeout.
        self._failing = False
        self._probing = False
        self._warned_at = -math.inf

    async def take(self, key: str) -> Verdict:
        """Spend one request of ``key``'s budget, if there is one left."""
        if self._shared is not None and time.monotonic() >= self._shared_again_at:
            if not self._failing:
                verdict = await self._take_shared(key)
                if verdict is not None:
                    return verdict
            elif not self._probing:
                self._probing = True
                try:
                    verdict = await self._take_shared(key)
                finally:
                    self._probing = False
                if verdict is not None:
                    self._failing = False
                    return verdict
        return self._take_here(key)

    def _take_here(self, key: str) -> Verdict:
        now = time.monotonic()
        tokens, then = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > _MAX_KEYS:
                self._forget_full(now)
            reset = math.ceil((self._burst - tokens + 1) / self._rate)
            return Verdict(True, self.limit, self.window, int(tokens - 1), 0, reset)
        self._buckets[key] = (tokens, now)
        retry_after = max(1, math.ceil((1 - tokens) / self._rate))
        return Verdict(
            False, self.limit, self.window, 0, retry_after, math.ceil((self._burst - tokens) / self._rate)
        )

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have filled up again: they hold nothing a new one would not."""
        self._buckets = {
            key: (tokens, then)
            for key, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self._rate < self._burst
        }

    async def _take_shared(self, key: str) -> Verdict | None:
        """The verdict of the shared storage; None when it failed or did not answer in time."""
        try:
            async with asyncio.timeout(self._timeout):
                # What the strategy's hit() does, keeping the count it throws away.
                spent = await self._shared.storage.incr(
                    self._item.key_for(self.name, key), self._item.get_expiry()
                )
                if spent <= self.limit:
                    return Verdict(True, self.limit, self.window, self.limit - spent, 0, self.window)
                stats = await self._shared.get_window_stats(self._item, self.name, key)
        except Exception as exc:  # TimeoutError included
            self._failing = True
            self._shared_again_at = time.monotonic() + _RETRY_SHARED_AFTER
            self._warn(exc)
            return None
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(False, self.limit, self.window, stats.remaining, retry_after, retry_after)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            logger.warning(
                "rate limits counted by each process alone for %.0f s: their storage failed (%s)",
                _RETRY_SHARED_AFTER,
                type(exc).__name__,
            )
