"""Who may call what: bearer-token authentication, and protective response headers.

Authentication is a pure ASGI middleware so that a request without a valid token is refused
before its body is read or parsed, and so that every later layer (routes, the access log) sees
the verified caller. Authorisation is each operation's own first check (operations.py: the
scope its method needs), which also declares it in the OpenAPI document.
"""

from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.auth.tokens import TokenRejected, TokenVerifier
from interfaces.http.operations import PRINCIPAL_KEY, Operation, challenge, operations
from interfaces.http.problems import problem_response
from interfaces.http.rate_limit import RATE_LIMIT_FIELDS
from interfaces.http.root_path import route_path

_AMBIGUOUS = "more than one Authorization header"


def public_paths(routes: Iterable[Any]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The paths of public operations, for the middleware that runs before routing: exact paths,
    and the prefixes of those with parameters (``/docs-assets/{name}``: ``/docs-assets/``)."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    for operation in operations(routes):
        if operation.public:
            if "{" in operation.path:
                prefixes.add(operation.path.split("{", 1)[0])
            else:
                exact.add(operation.path)
    return frozenset(exact), tuple(sorted(prefixes))


def _bearer_token(scope: Scope) -> str | None:
    """The token of the ``Authorization: Bearer ...`` header; ``None`` when there is none.

    Raises TokenRejected when there are several: which one a proxy or the server reads is a
    guess, and credentials must not be guessed at.
    """
    values = [value for name, value in scope["headers"] if name == b"authorization"]
    if len(values) > 1:
        raise TokenRejected(_AMBIGUOUS)
    if not values:
        return None
    scheme, _, token = bytes(values[0]).decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class BearerAuthentication:
    """Verifies the bearer token of every request except those to public paths (or under prefixes)."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: TokenVerifier,
        public_paths: Iterable[str],
        public_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self._verifier = verifier
        self._public = frozenset(public_paths)
        self._public_prefixes = public_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path in self._public or path.startswith(self._public_prefixes):
            await self.app(scope, receive, send)
            return
        try:
            token = _bearer_token(scope)
        except TokenRejected as exc:
            await self._refuse(scope, receive, send, exc)
            return
        if token is None:
            response = problem_response(
                scope["path"],
                401,
                "missing-token",
                "this request needs an Authorization: Bearer <token> header",
                headers={"WWW-Authenticate": challenge()},
            )
            await response(scope, receive, send)
            return
        try:
            principal = self._verifier.verify(token)
        except TokenRejected as exc:
            await self._refuse(scope, receive, send, exc)
            return
        scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, reason: TokenRejected) -> None:
        response = problem_response(
            scope["path"],
            401,
            "invalid-token",
            str(reason),
            headers={"WWW-Authenticate": challenge("invalid_token", str(reason))},
        )
        await response(scope, receive, send)


_PUBLIC = ((b"x-content-type-options", b"nosniff"),)
_PRIVATE = (*_PUBLIC, (b"cache-control", b"no-store"))


class ProtectiveHeaders:
    """``nosniff`` on every response; ``no-store`` on every one but those of public operations.

    Student records are personal data: no shared or browser cache may keep a copy. Private is the
    default: an answer of no operation at all (a 401, a 404) is not stored either. The rate-limit
    fields the budgets left in the scope (rate_limit.py) go out here too, with whatever answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                public = isinstance(route, Operation) and route.public
                message["headers"] = [
                    *message.get("headers", ()),
                    *(_PUBLIC if public else _PRIVATE),
                    *scope.get(RATE_LIMIT_FIELDS, ()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
