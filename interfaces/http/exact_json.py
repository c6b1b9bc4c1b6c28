"""JSON bodies read exactly: a number keeps every digit the client sent.

FastAPI reads a JSON body with ``json.loads``, which turns 8.749999999999999999 into the float
8.75 before any validator sees it, so a CGPA with too many decimals would be rounded instead of
refused. Routes of this class decode numbers with a fraction as ``Decimal`` instead. A body the
decoder cannot take (not UTF-8, a number of thousands of digits or with an exponent no Decimal
holds, nesting thousands deep) is reported as malformed JSON, not as FastAPI's generic 400; so
is an object of more than ``MAX_MEMBERS`` members, which no body of this API has, before
validation spends a second and megabytes describing each of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

MAX_MEMBERS = 100


class _TooManyMembers(ValueError):
    pass


def _bounded_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > MAX_MEMBERS:
        raise _TooManyMembers(f"an object has more than {MAX_MEMBERS} members")
    return dict(pairs)


def _unreadable(body: bytes, reason: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(f"cannot be read: {reason}", body.decode("utf-8", errors="replace"), 0)


class _ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_float=Decimal, object_pairs_hook=_bounded_object)
            except json.JSONDecodeError:
                raise
            except _TooManyMembers as exc:
                raise json.JSONDecodeError(str(exc), body.decode("utf-8", errors="replace"), 0) from None
            except RecursionError:
                raise _unreadable(body, "nested too deep") from None
            except ArithmeticError:  # decimal's InvalidOperation: an exponent no Decimal holds
                raise _unreadable(body, "a number is out of range") from None
            except ValueError as exc:  # not UTF-8; an integer of thousands of digits
                raise _unreadable(body, type(exc).__name__) from None
        return self._json


class ExactJsonRoute(APIRoute):
    """An ``APIRoute`` whose handler sees the request through :class:`_ExactJsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(_ExactJsonRequest(request.scope, request.receive))

        return exact
