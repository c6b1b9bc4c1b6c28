"""What a draining server process tells its clients (see interfaces/server.py for the sequence).

While the process drains, every answer carries ``Connection: close``: a client (or a balancer)
then opens its next connection elsewhere, and by the time the process stops accepting it has no
idle keep-alive connections left to close under a client that is about to reuse one. A request
still running when SHUTDOWN_TIMEOUT ends it is answered 503 rather than dropped.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interfaces.http.problems import RETRY_SOON, problem_response
from interfaces.lifecycle import Lifecycle

_CLOSE = (b"connection", b"close")
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class Draining:
    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self._lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if self._lifecycle.draining:
                    message["headers"] = [*message.get("headers", ()), _CLOSE]
            await send(message)

        try:
            await self.app(scope, receive, send_closing)
        except asyncio.CancelledError:
            if not (self._lifecycle.draining and not started):
                raise
            # The server's shutdown timeout ran out on this request (a client trickling its body,
            # say): answer it, and end here rather than as an "Exception in ASGI application". A
            # write may have been carried out before it was cut short: say so, never "retry it".
            detail = (
                "this server process stopped before it could answer; retry the request"
                if scope["method"] in _SAFE
                else "this server process stopped before it could answer: the change may or may not "
                "have been kept; read the resource before retrying"
            )
            response = problem_response(scope["path"], 503, "shutting-down", detail, headers=RETRY_SOON)
            await response(scope, receive, send_closing)
