"""JSON bodies read exactly: a number keeps every digit the client sent.

FastAPI reads a JSON body with ``json.loads``, which turns 8.749999999999999999 into the float
8.75 before any validator sees it, so a CGPA with too many decimals would be rounded instead of
refused. Routes of this class decode numbers with a fraction as ``Decimal`` instead. A body the
decoder cannot take (not UTF-8, a number of thousands of digits, nesting thousands deep) is
reported as malformed JSON, not as FastAPI's generic 400.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response


class _ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_float=Decimal)
            except json.JSONDecodeError:
                raise
            except (ValueError, RecursionError) as exc:
                text = body.decode("utf-8", errors="replace")
                raise json.JSONDecodeError(f"cannot be read: {type(exc).__name__}", text, 0) from None
        return self._json


class ExactJsonRoute(APIRoute):
    """An ``APIRoute`` whose handler sees the request through :class:`_ExactJsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(_ExactJsonRequest(request.scope, request.receive))

        return exact
