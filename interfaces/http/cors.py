"""CORS for configured browser origins, with refusals as problem documents like every other error."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from interfaces.http.problems import problem_response

# How Starlette words a refused preflight: this prefix, then what was refused ("origin, method").
_STARLETTE_REFUSAL = "Disallowed CORS "
_BODY_HEADERS = frozenset({"content-type", "content-length"})


class Cors(CORSMiddleware):
    """Starlette's CORS middleware, whose refused preflight (400) is ``application/problem+json``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            # A preflight, as Starlette tells one.
            if "origin" in headers and "access-control-request-method" in headers:
                response = self._preflight(scope["path"], headers)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _preflight(self, path: str, headers: Headers) -> Response:
        response = self.preflight_response(request_headers=headers)
        if response.status_code != 400:
            return response
        detail = "this cross-origin request is not allowed"
        text = bytes(response.body).decode()
        if text.startswith(_STARLETTE_REFUSAL):
            detail += f"; refused: {text.removeprefix(_STARLETTE_REFUSAL)}"
        kept = {name: value for name, value in response.headers.items() if name not in _BODY_HEADERS}
        return problem_response(path, 400, "cors-refused", detail, headers=kept)
