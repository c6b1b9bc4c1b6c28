"""Who may call what: bearer-token authentication, scope checks, and protective response headers.

Authentication is a pure ASGI middleware so that a request without a valid token is refused
before its body is read or parsed, and so that every later layer (routes, the access log) sees
the verified caller. Authorisation is a route dependency: each operation names the scope it
needs, which also declares it in the OpenAPI document (the Authorize button of /docs).
"""

# No "from __future__ import annotations" here: FastAPI reads the Annotated dependency markers
# from the live signatures below.

from collections.abc import Iterable
from typing import Annotated

from fastapi import Request, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.auth.tokens import Principal, TokenRejected, TokenVerifier
from interfaces.http.problems import HttpProblem, problem_response
from interfaces.scopes import ADMIN, READ, WRITE

__all__ = [
    "ADMIN",
    "READ",
    "READ_ACCESS",
    "WRITE",
    "WRITE_ACCESS",
    "BearerAuthentication",
    "ProtectiveHeaders",
    "Writer",
]

# Where the middleware leaves the verified caller in the ASGI scope.
PRINCIPAL_KEY = "students.principal"
_REALM = 'Bearer realm="students"'


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    """An RFC 6750 ``WWW-Authenticate`` value."""
    parts = [_REALM]
    if error is not None:
        parts.append(f'error="{error}"')
    if description is not None:
        parts.append(f'error_description="{description}"')
    if scope is not None:
        parts.append(f'scope="{scope}"')
    return ", ".join(parts)


_AMBIGUOUS = "more than one Authorization header"


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
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self._public or path.startswith(self._public_prefixes):
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
                headers={"WWW-Authenticate": _challenge()},
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
            headers={"WWW-Authenticate": _challenge("invalid_token", str(reason))},
        )
        await response(scope, receive, send)


class _BearerScheme(SecurityBase):
    """Declares the bearer scheme in OpenAPI and checks the scopes of the caller the middleware
    verified; a route gets the caller back.

    One dependency rather than a scope check depending on a scheme: FastAPI resolves each
    dependency of each request on its own, at a measured 10 us of CPU apiece.
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="JWT",
            description="A JWT whose `scope` claim grants students:read, students:write or "
            "students:admin. Locally, `students token students:read students:write` mints one.",
        )
        self.scheme_name = "bearerAuth"

    async def __call__(self, request: Request, required: SecurityScopes) -> Principal:
        principal = request.scope.get(PRINCIPAL_KEY)
        if not isinstance(principal, Principal):
            # Only reachable if the middleware is missing from the stack: fail closed.
            raise HttpProblem(
                401, "missing-token", "authentication is required", {"WWW-Authenticate": _REALM}
            )
        missing = [scope for scope in required.scopes if scope not in principal.scopes]
        if missing:
            raise HttpProblem(
                403,
                "insufficient-scope",
                f"this request needs the scope {' '.join(missing)}, which the token does not grant",
                {"WWW-Authenticate": _challenge("insufficient_scope", scope=" ".join(required.scopes))},
            )
        return principal


_bearer = _BearerScheme()


# Route dependencies, listed first in ``dependencies=[...]`` so that 403 comes before 415 or 422.
READ_ACCESS = Security(_bearer, scopes=[READ])
WRITE_ACCESS = Security(_bearer, scopes=[WRITE])
# The same check as a parameter, for a route that needs to know who the caller is (resolved once).
Writer = Annotated[Principal, WRITE_ACCESS]


class ProtectiveHeaders:
    """``nosniff`` on every response; ``no-store`` on everything under ``private_prefix``.

    Student records are personal data: no shared or browser cache may keep a copy.
    """

    def __init__(self, app: ASGIApp, private_prefix: str) -> None:
        self.app = app
        self._private_prefix = private_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"x-content-type-options", b"nosniff")]
        if scope["path"].startswith(self._private_prefix):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
