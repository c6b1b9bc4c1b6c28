"""dependency-injector's ``Provide`` marker, made awaitable for FastAPI.

FastAPI calls whatever ``Depends()`` wraps. The stock marker is a plain synchronous callable, so
FastAPI hands it to a worker thread on every request just to get the marker back, after which
``@inject`` swaps in the provided object. Making the call a coroutine keeps it on the event loop;
everything else about the wiring is unchanged.
"""

from __future__ import annotations

from typing import Self

from dependency_injector import wiring


class Provide(wiring.Provide):  # type: ignore[misc,valid-type]
    async def __call__(self) -> Self:
        return self
