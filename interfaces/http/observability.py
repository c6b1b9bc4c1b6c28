"""Request ids, one access line per request, request metrics, and the last word on crashes.

A pure ASGI middleware, outside everything but the protective headers, so it sees every answer:
the 401s and 413s the inner middleware send, CORS preflights, and the 500 it sends itself when
something below fails unexpectedly.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.auth.tokens import Principal
from infrastructure.observability.context import current_request_id
from infrastructure.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from interfaces.http.operations import PRINCIPAL_KEY
from interfaces.http.problems import problem_response

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.lower().encode()
# A client's id is kept only if it is short and plain: it ends up in headers and log lines.
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:+/=-]{1,128}")
# Metric labels come from a closed set: a client can send any path or method it likes.
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

logger = logging.getLogger(__name__)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_HEADER:
            if _VALID_REQUEST_ID.fullmatch(value):
                return bytes(value).decode("ascii")
            break
    return uuid.uuid4().hex


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    # The template as documented, without convertors: /students/{student_id}.
    path = getattr(route, "path_format", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestObservation:
    def __init__(self, app: ASGIApp, *, access_log: Any = None) -> None:
        """``access_log``: a logger with ``info(event, **fields)``, or None for no access lines."""
        self.app = app
        self._access_log = access_log
        # (method, route, status) -> the counter and histogram children; labels() costs a lookup
        # under a lock, and the same few combinations recur on every request.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = _request_id(scope)
        context = current_request_id.set(request_id)
        id_header = (_REQUEST_ID_HEADER, request_id.encode("ascii"))
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Nothing below knew what to do: the story goes to the log, the client learns only
            # that it was our fault, and which request it was.
            logger.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if answered:
                raise  # the answer is half sent: the server must drop the connection
            response = problem_response(
                scope["path"], 500, "internal-error", "the server failed to handle this request"
            )
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started_at
            self._record(scope, status, elapsed)
            current_request_id.reset(context)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = _route_of(scope)
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = (method, route, str(status))
            series = self._series[key] = (HTTP_REQUESTS.labels(*labels), HTTP_LATENCY.labels(*labels))
        series[0].inc()
        series[1].observe(elapsed)
        if self._access_log is not None:
            principal = scope.get(PRINCIPAL_KEY)
            self._access_log.info(
                "request",
                method=method,
                route=route,
                path=scope["path"],  # never the query string: q holds names
                status=status,
                duration_ms=round(elapsed * 1000, 3),
                subject=principal.subject if isinstance(principal, Principal) else None,
            )
