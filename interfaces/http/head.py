"""HEAD on every GET route (RFC 9110 9.3.2): the status and headers GET would answer, no body.

Pure ASGI, innermost: the request is routed and answered as the GET it asks about (same scope,
same refusals, same ETag and Content-Length), and the body is dropped on its way out. The
middleware outside it (logs, metrics, request ids) sees the HEAD. A route that would stream a
long body (the export) reads :func:`is_head` and sends none.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What the request's method was, where the routes see GET.
ASKED_METHOD = "students.asked_method"


def is_head(scope: Scope) -> bool:
    return scope.get(ASKED_METHOD) == "HEAD"


def asked_method(scope: Scope) -> str:
    """The method the client sent (HEAD where the routes see GET)."""
    method: str = scope.get(ASKED_METHOD, scope["method"])
    return method


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        ended = False
        routed = {**scope, "method": "GET", ASKED_METHOD: "HEAD"}

        async def without_body(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.start" and "route" in routed:
                # What the router found, for the middleware outside that reads it from the
                # request's own scope (the headers of a public route, the route in logs and metrics).
                scope["route"] = routed["route"]
            if message["type"] == "http.response.body":
                if ended:
                    return
                ended = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(routed, receive, without_body)
