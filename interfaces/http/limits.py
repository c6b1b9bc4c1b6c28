"""Request size limits (OWASP API4): refuse what is too large before doing any work for it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interfaces.http.problems import body_too_large, problem_response
from interfaces.http.root_path import route_path

# The longest request target taken (414 beyond): no path here is longer than some 60 bytes, and
# no valid query longer than some 2,400 (every parameter is bounded). Bounded, every URL the
# service writes back (Location, Link, a problem's instance) stays within what OpenAPI says.
MAX_PATH_BYTES = 2048
MAX_QUERY_BYTES = 4096


class BodySizeLimit:
    """Answers 413 problem+json to a request body over ``limit`` bytes, never reading it whole,
    and 414 to a path or query longer than MAX_PATH_BYTES or MAX_QUERY_BYTES.

    A body that announces its length is judged by ``Content-Length`` before anything else runs
    (the server already holds the body to that length). A chunked body is counted as it arrives:
    at the first byte too many the application is told the client went away, so it stops
    reading, and whatever it would have answered is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self._limit = limit
        # Paths (below the root path) that take larger bodies: a bulk import's file.
        self._larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
        if len(raw_path) > MAX_PATH_BYTES or len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await self._refuse_target(scope, receive, send)
            return
        limit = self._limit
        if self._larger:
            limit = self._larger.get(route_path(scope), limit)
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) <= limit:
                    break
                await self._refuse(scope, receive, send, limit)
                return
            if name == b"transfer-encoding":
                chunked = True
        if not chunked:
            await self.app(scope, receive, send)
            return
        await self._counting(scope, receive, send, limit)

    async def _counting(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        exceeded = responded = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            if exceeded:
                if not responded:
                    responded = True
                    await self._refuse(scope, receive, send, limit)
                return
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if exceeded and not responded:
            await self._refuse(scope, receive, send, limit)

    async def _refuse_target(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The instance is the service's root: the path itself is what is too long to repeat.
        detail = (
            f"the request's path or query is longer than this service accepts "
            f"({MAX_PATH_BYTES} and {MAX_QUERY_BYTES} bytes)"
        )
        response = problem_response(f"{scope.get('root_path', '')}/", 414, "uri-too-long", detail)
        await response(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(scope["path"], 413, "content-too-large", body_too_large(limit))
        await response(scope, receive, send)
