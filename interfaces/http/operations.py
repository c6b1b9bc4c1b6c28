"""How an operation is declared, checked before its body is read, and documented from what it uses.

Every route of the API is an :class:`Operation`. What the route uses says what it can be refused,
so nobody types a list of statuses by hand:

- who may call it: a bearer token with the scope its method needs (GET: read, others: write),
  unless it is marked :func:`public` or asks for another scope with :func:`requires`;
- what it reads: a body (415 for another media type, 422), path, query and header parameters
  (422), and the dependencies that declare refusals of their own (If-Match: 400, 412, 428);
- which use-case it calls: the errors the use-case class declares in ``raises``, mapped through
  the one table in problems.py, and 503 when the database cannot serve.

The checks that must come first (403 before 415 before 422, RFC 9110's order of what a server
knows) run in :meth:`Operation.handle`, before the body is read; the rest is FastAPI's, through
the handler handlers.py gives the route (FastAPI's own, or a direct path with its answers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from infrastructure.auth.tokens import Principal
from interfaces.http.handlers import cannot_refuse, route_handler
from interfaces.http.media import JSON, MERGE_PATCH, refused_body
from interfaces.http.problems import HttpProblem, problem_response, problem_responses, statuses_of
from interfaces.scopes import READ, WRITE

F = TypeVar("F", bound=Callable[..., Any])

# Where the authentication middleware leaves the verified caller in the ASGI scope.
PRINCIPAL_KEY = "students.principal"
REALM = 'Bearer realm="students"'
SECURITY_SCHEME = "bearerAuth"
_SCOPE_BY_METHOD = {"GET": READ, "HEAD": READ}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def public(endpoint: F) -> F:
    """Mark an operation as open to anyone: no token, and responses a cache may keep."""
    endpoint.__dict__["access"] = ()
    return endpoint


def requires(*scopes: str) -> Callable[[F], F]:
    """The scopes an operation needs, where its method's default (read or write) is not the one."""

    def mark(endpoint: F) -> F:
        endpoint.__dict__["access"] = scopes
        return endpoint

    return mark


def accepts(*media_types: str, examples: dict[str, str] | None = None) -> Callable[[F], F]:
    """The media types an operation's body may have, where JSON (merge patch too, for PATCH) is
    not, with an example body of each for the document."""

    def mark(endpoint: F) -> F:
        endpoint.__dict__["media_types"] = media_types
        endpoint.__dict__["media_examples"] = examples or {}
        return endpoint

    return mark


def refuses(*statuses: int) -> Callable[[F], F]:
    """Declare the statuses an operation, or a dependency (for every operation using it), answers
    with beyond what operations.py derives."""

    def mark(target: F) -> F:
        target.__dict__["refusals"] = statuses
        return target

    return mark


def documents(*parameters: dict[str, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """OpenAPI parameters a dependency reads itself (a header it judges), for every operation using it."""

    def mark(dependency: Callable[..., Any]) -> Callable[..., Any]:
        dependency.__dict__["openapi_parameters"] = parameters
        return dependency

    return mark


def challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    """An RFC 6750 ``WWW-Authenticate`` value."""
    parts = [REALM]
    if error is not None:
        parts.append(f'error="{error}"')
    if description is not None:
        parts.append(f'error_description="{description}"')
    if scope is not None:
        parts.append(f'scope="{scope}"')
    return ", ".join(parts)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in _dependants(dependant):
        if sub.call is not None:
            yield sub.call


class Operation(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        methods = self.methods or set()
        marked = endpoint.__dict__.get("access")
        self.public = marked == ()
        self.scopes: tuple[str, ...] = (
            () if self.public else marked or (_SCOPE_BY_METHOD.get(next(iter(methods), ""), WRITE),)
        )
        # A route that reads its body as a stream (a bulk import) has no body field: its
        # ``accepts`` says it reads one all the same.
        marked_media: tuple[str, ...] | None = endpoint.__dict__.get("media_types")
        self.streams_body = self.body_field is None and marked_media is not None
        has_body = self.body_field is not None or self.streams_body
        default_media = (MERGE_PATCH, JSON) if "PATCH" in methods else (JSON,)
        self.media_types: tuple[str, ...] = (marked_media or default_media) if has_body else ()
        self.takes_query = bool(self.dependant.query_params) or any(
            sub.query_params for sub in _dependants(self.dependant)
        )
        self._declare_refusals(has_body)
        self._declare_inputs()

    def _declare_inputs(self) -> None:
        """Who may call, the headers its dependencies read, and every media type its body may have."""
        extra: dict[str, Any] = dict(self.openapi_extra or {})
        if not self.public:
            extra["security"] = [{SECURITY_SCHEME: list(self.scopes)}]
        parameters = [p for call in _calls(self.dependant) for p in getattr(call, "openapi_parameters", ())]
        if parameters:
            extra["parameters"] = [*extra.get("parameters", []), *parameters]
        if self.streams_body:
            text = {"type": "string", "description": "the file, streamed: see the operation's description"}
            examples: dict[str, str] = self.endpoint.__dict__.get("media_examples", {})
            extra["requestBody"] = {
                "required": True,
                "content": {
                    media: {"schema": text, **({"example": examples[media]} if media in examples else {})}
                    for media in self.media_types
                },
            }
        self.openapi_extra = extra or None

    def provided(self) -> Iterator[Any]:
        """What this operation takes from the container (interfaces/http/injection.py)."""
        for call in _calls(self.dependant):
            if getattr(call, "provider_name", None) is not None:
                yield call

    def _declare_refusals(self, has_body: bool) -> None:
        # A body or URI too large, whatever the method (limits.py); a spent rate limit
        # (rate_limit.py); a bug.
        statuses: set[int] = {413, 414, 429, 500}
        if not self.public:
            statuses |= {400, 401, 403}  # a Host not served; no valid token; no scope
        if has_body:
            statuses |= {422} | ({415} if self.media_types else set())
        if self.dependant.path_params or self.dependant.query_params or self.dependant.header_params:
            statuses.add(422)
        statuses.update(getattr(self.endpoint, "refusals", ()))
        for call in _calls(self.dependant):
            statuses.update(getattr(call, "refusals", ()))
            raises = getattr(call, "raises", None)
            if raises is not None:
                statuses |= statuses_of(raises) | {503}  # a use-case: and its database
        documented = problem_responses(*sorted(statuses))
        self.responses = {**documented, **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # FastAPI's handler for what is left once the request-only dependencies are folded, or
        # one of handlers.py's that does its work without its per-request set-up.
        return route_handler(self, super().get_route_handler)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            # Routed here for its path alone (no route has this method): the 405, before anything
            # this operation would refuse a request of its own method with.
            await super().handle(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await super().handle(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        """What must be refused before the body is read: scope (403), media type (415), query."""
        if b"%2f" in scope.get("raw_path", b"").lower():
            # "/students%2F<id>" is a path of its own (RFC 3986), which no operation has; routing
            # matched it only because the server had decoded the slash.
            return problem_response(scope["path"], 404, "not-found", f"no resource at {scope['path']}")
        if not self.public:
            principal = scope.get(PRINCIPAL_KEY)
            if not isinstance(principal, Principal):
                # Only reachable without the authentication middleware in the stack: fail closed.
                return problem_response(
                    scope["path"], 401, "missing-token", "authentication is required",
                    headers={"WWW-Authenticate": REALM},
                )  # fmt: skip
            missing = [wanted for wanted in self.scopes if wanted not in principal.scopes]
            if missing:
                return problem_response(
                    scope["path"],
                    403,
                    "insufficient-scope",
                    f"this request needs the scope {' '.join(missing)}, which the token does not grant",
                    headers={
                        "WWW-Authenticate": challenge("insufficient_scope", scope=" ".join(self.scopes))
                    },
                )
        if self.media_types and scope["method"] in _BODY_METHODS:
            problem = refused_body(scope, self.media_types, patch=scope["method"] == "PATCH")
            if problem is not None:
                return problem_response(
                    scope["path"], 415, problem.slug, problem.detail, headers=problem.headers
                )
        if not self.public:
            self._check_query(scope)
        return None

    def _check_query(self, scope: Scope) -> None:
        query = scope["query_string"]
        if not query:
            return
        names = [name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)]
        if not self.takes_query:
            # Any parameter an operation without parameters is given is the client's mistake.
            raise RequestValidationError(
                [
                    {"type": "extra_forbidden", "loc": ("query", name), "msg": "is not a known parameter"}
                    for name in sorted(set(names)) or [""]
                ]
            )
        times = Counter(names)  # counted once: a query can hold some two thousand names
        repeated = sorted(name for name, count in times.items() if count > 1)
        if repeated:
            # Of ?q=a&q=b one would be ignored without a word.
            raise RequestValidationError(
                [
                    {"type": "repeated", "loc": ("query", name), "msg": "is given more than once"}
                    for name in repeated
                ]
            )


def operations(routes: Iterable[Any]) -> Iterator[Operation]:
    for route in routes:
        if isinstance(route, Operation):
            yield route


@cannot_refuse  # the scope check before the route (Operation._refusal) has already said 401
async def caller_of(request: Request) -> Principal:
    principal = request.scope.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise HttpProblem(401, "missing-token", "authentication is required", {"WWW-Authenticate": REALM})
    return principal
