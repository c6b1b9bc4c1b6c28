"""Serving under a path prefix (``ROOT_PATH``, ``serve --root-path``): ``/api/students``.

A proxy in front either passes the prefix on (``/api/students``) or strips it (``/students``);
both reach the same route. ``RootPath`` (outermost) makes every request look as ASGI and
Starlette expect: ``root_path`` is the prefix, ``path`` the full path, the prefix included. So
the request's URL, the problem ``instance`` and the access log name the path the client used,
links (interfaces/http/links.py) and the docs pages are built under the prefix, and whatever
compares paths before routing (authentication, rate limits, hosts, body limits) compares
``route_path(scope)``, the path below the prefix, as routing does.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send


def route_path(scope: Scope) -> str:
    """The request's path below the root path: what the routes are matched against."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def collides(prefix: str, route_paths: Iterable[str]) -> str | None:
    """The route whose own first segment is the prefix's (``/students`` under ``/students``):
    a path under it could be read either way."""
    first = prefix.split("/", 2)[1]
    for path in route_paths:
        if path.split("/", 2)[1] == first:
            return path
    return None


class RootPath:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self._prefix = prefix  # "/api": a slash, no trailing slash (settings.py)
        self._raw_prefix = prefix.encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            prefix = self._prefix
            path = scope["path"]
            if path != prefix and not path.startswith(prefix + "/"):
                # The proxy stripped the prefix: put it back, as uvicorn's --root-path would.
                scope = {
                    **scope,
                    "path": prefix + path,
                    "raw_path": self._raw_prefix + scope.get("raw_path", path.encode("ascii", "replace")),
                }
            else:
                scope = dict(scope)
            scope["root_path"] = prefix
        await self.app(scope, receive, send)
